from django.apps import AppConfig


class PracticesConfig(AppConfig):
    name = "practices"
    verbose_name = "Practices"

    def ready(self):
        from . import receivers  # noqa: F401  (connects the account events to the audit log)
