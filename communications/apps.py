from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    name = "communications"
    verbose_name = "Communications"

    def ready(self):
        # Registers the tasks that the services send by name (letters.dispatch,
        # outbox.dispatch) in every process, so a name finds the task itself.
        from . import (
            receivers,  # noqa: F401  (connects the letter triggers)
            tasks,  # noqa: F401
        )
