from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    name = "communications"
    verbose_name = "Communications"

    def ready(self):
        from practices import panels

        # receivers: connects the letter triggers. tasks: registers the tasks that the
        # services send by name (letters.dispatch, outbox.SEND_EMAIL_TASK) in every process, so a
        # name finds the task itself.
        from . import receivers, tasks  # noqa: F401
        from .panels import case_letters, office_letters

        # The "Letters" panels of the case and office pages, its Settings section
        # (practices/panels.py).
        panels.register(panels.CASE, case_letters)
        panels.register(panels.OFFICE, office_letters)
        panels.register(
            panels.SETTINGS,
            panels.template("communications/editor/settings_section.html"),
            order=40,
        )
