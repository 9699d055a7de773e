import os

from celery import Celery
from celery.signals import task_postrun

from config.db.tenant_setting import reset_tenant_settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A task re-enters its practice's scope itself (and the database follows the scope before
# every statement); when it ends, its connection is unbound from that practice too.
task_postrun.connect(reset_tenant_settings, dispatch_uid="config.db.reset_tenant_settings")
