"""Settings for the `make run` test: the laptop's settings (config.settings.local, SQLite and
Celery's filesystem transport), with everything the desk writes under the test's own directory
(MAKE_RUN_DIR) instead of var/: a desk running from the same checkout, or a developer's var/, is
left alone, and PostgreSQL or Redis in the environment (CI) are not used."""

import os
from pathlib import Path

from config.settings.local import *  # noqa: F401,F403

VAR_DIR = Path(os.environ["MAKE_RUN_DIR"])
# The busy-worker test holds the database's write lock longer than the stop's grace period:
# a task waiting on it sits in SQLite's C code, where no signal handler can reach it.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db.sqlite3",
        "OPTIONS": {"timeout": int(os.environ.get("MAKE_RUN_SQLITE_TIMEOUT", "5"))},
    }
}
REDIS_URL = ""
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery"
for folder in ("queue", "processed", "control"):
    (CELERY_FILESYSTEM_DIR / folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_URL = "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
    "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
    "processed_folder": str(CELERY_FILESYSTEM_DIR / "processed"),
    "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
    "store_processed": False,
}
CELERY_RESULT_BACKEND = None
MEDIA_ROOT = VAR_DIR / "media"
COLLECTION_SMS_FILE = str(VAR_DIR / "sms" / "outbox.jsonl")
COLLECTION_LETTER_DIR = str(VAR_DIR / "letters")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
