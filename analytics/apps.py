from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self):
        from practices import dispatch, panels

        # receivers: connects the signal receivers; tasks: the names the services send.
        from . import receivers, recompute_now, tasks  # noqa: F401

        # "Compute now" requests handed to a worker that none took (the broker was down).
        dispatch.register("recomputes", recompute_now.waiting_requests)

        panels.register(
            panels.SETTINGS, panels.template("analytics/settings/section.html"), order=20
        )
