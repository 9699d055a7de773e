from django.apps import AppConfig


class PracticesConfig(AppConfig):
    name = "practices"
    verbose_name = "Practices"

    def ready(self):
        # Signal receivers: the idle clock starts at login; open sessions are indexed.
        from . import idle, user_sessions  # noqa: F401
