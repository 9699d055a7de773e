from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self):
        from practices import panels

        from . import receivers  # noqa: F401  (connects the signal receivers)

        panels.register(
            panels.SETTINGS, panels.template("analytics/settings/section.html"), order=20
        )
