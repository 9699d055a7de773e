from django.apps import AppConfig


class PracticesConfig(AppConfig):
    name = "practices"
    verbose_name = "Practices"

    def ready(self):
        # Signal receivers: account events go to the audit log; the idle clock starts at
        # login; open sessions are indexed.
        from . import idle, panels, receivers, user_sessions  # noqa: F401

        # The Settings page's sections (practices/panels.py), in this order with the
        # other apps' (referrer health 20, referrals 35, letters 40, audit log 50, export 60).
        panels.register(
            panels.SETTINGS, panels.template("practices/settings_team_section.html"), order=10
        )
        panels.register(
            panels.SETTINGS, panels.template("practices/settings_security_section.html"), order=30
        )
        panels.register(
            panels.SETTINGS, panels.template("practices/settings_referrals_section.html"), order=35
        )
