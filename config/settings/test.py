"""Tests: the same settings as development, with fast hashing and no real mail."""

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from .base import *  # noqa: F401,F403

# pytest-xdist runs the suite in several processes (`-n`), named gw0, gw1, ... in
# PYTEST_XDIST_WORKER. pytest-django gives each its own test database; here each gets its own Redis
# database too, counted down from REDIS_URL's (gw0 keeps it, gw1 the one below), so one worker's
# Celery messages and cache never reach another's. A Celery worker a test starts inherits the
# variable and so the same database.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _XDIST_WORKER:  # noqa: F405
    _redis = urlsplit(REDIS_URL)  # noqa: F405
    _database = (int(_redis.path.strip("/") or 0) - int(_XDIST_WORKER.removeprefix("gw"))) % 16
    REDIS_URL = _redis._replace(path=f"/{_database}").geturl()
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = CELERY_RESULT_BACKEND = REDIS_URL

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Messages the tests send by file stay out of var/.
_OUTBOX = Path(tempfile.gettempdir()) / "collection-desk-tests" / (_XDIST_WORKER or "main")
COLLECTION_SMS_FILE = str(_OUTBOX / "sms.jsonl")
COLLECTION_LETTER_DIR = str(_OUTBOX / "letters")
LEGAL_DOCUMENTS_ROOT = _OUTBOX / "legal-documents"
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
