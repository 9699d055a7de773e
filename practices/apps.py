from django.apps import AppConfig


class PracticesConfig(AppConfig):
    name = "practices"
    verbose_name = "Practices"

    def ready(self):
        # Signal receivers: account events go to the audit log; the idle clock starts at
        # login; open sessions are indexed.
        from . import idle, receivers, user_sessions  # noqa: F401
