from django.apps import AppConfig


class PortabilityConfig(AppConfig):
    """A practice owns its data: the export of everything of a practice (CSV per entity,
    letter PDFs, attachments) and its re-import into an empty practice."""

    name = "portability"
    verbose_name = "Data export"

    def ready(self):
        from practices import dispatch, panels

        # Registers the tasks that the services send by name (services.request_export)
        # in every process, so a name finds the task itself.
        from . import services, tasks  # noqa: F401

        # Exports handed to a worker that none took (the broker was down) go again.
        dispatch.register("exports", services.waiting_exports)

        # Its section of the Settings page (practices/panels.py).
        panels.register(
            panels.SETTINGS, panels.template("portability/settings_section.html"), order=60
        )
