from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals"

    def ready(self):
        from practices import dispatch, panels

        # Registers the tasks that the services send by name (importing.jobs.import_now)
        # in every process, so a name finds the task itself.
        from . import tasks  # noqa: F401
        from .importing import jobs

        # Imports handed to a worker that none took (the broker was down) go again.
        dispatch.register("imports", jobs.waiting_jobs)

        # Its section of the Settings page (practices/panels.py).
        panels.register(
            panels.SETTINGS, panels.template("referrals/audit_log/settings_section.html"), order=50
        )
