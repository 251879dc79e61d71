"""The Celery application, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# Every task runs as the desk's `system` account in the audit trail (accounts.audit.AuditedTask):
# named, not imported, so that config depends on no app.
app = Celery("collection_desk", task_cls="accounts.audit:AuditedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
