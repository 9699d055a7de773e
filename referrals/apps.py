from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals"

    def ready(self):
        # Registers the tasks that the services send by name (importing.jobs.import_now) in
        # every process, so a name finds the task itself.
        from . import tasks  # noqa: F401
