"""Tests: the same settings as development, with fast hashing and no real mail."""

import tempfile
from pathlib import Path

from .base import *  # noqa: F401,F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Messages the tests send by file stay out of var/.
_OUTBOX = Path(tempfile.gettempdir()) / "collection-desk-tests"
COLLECTION_SMS_FILE = str(_OUTBOX / "sms.jsonl")
COLLECTION_LETTER_DIR = str(_OUTBOX / "letters")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = False
# Static files are served by runserver/whitenoise outside tests; tests need no collected files.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise.")]  # noqa: F405
# django-axes raises on authenticate() calls that carry no request, as the test client's login()
# makes them. The lockout's own tests (tests/accounts/test_login_lockout.py) turn it on and log in
# through the login pages; every other settings module keeps it on (tests/config/test_deploy.py).
AXES_ENABLED = False
