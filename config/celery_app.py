"""The Celery application, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


class AuditedTask(Task):
    """Every task's changes are recorded in the audit trail as the desk's `system` account's: a
    task has no request user, and this is the one place that says who it acts as."""

    def __call__(self, *args, **kwargs):
        from accounts.audit import audit_actor

        with audit_actor():
            return super().__call__(*args, **kwargs)


app = Celery("collection_desk", task_cls=AuditedTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
