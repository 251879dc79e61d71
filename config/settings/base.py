"""Settings shared by every environment. Everything configurable comes from the environment
(see .env.example); the defaults run the whole desk on one machine with no server installed:
SQLite under var/ and Celery's filesystem transport under var/celery/."""

import datetime
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="insecure-development-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    # Content types before auth: rows are reloaded in this order (a test's serialized rollback), and
    # the audit trail recording a role's permissions as they are reloaded needs the role's content type.
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_fsm_log",
    "accounts.apps.AuditTrailConfig",  # django-auditlog, named in the desk's words
    # Login lockout and the log of logins, failed logins and logouts (its admin is the desk's,
    # in accounts.admin: read-only logs, and an admin unlocks by deleting the attempt).
    "accounts.apps.LoginRecordsConfig",  # django-axes, named in the desk's words
    "csp",
    "django_htmx",
    "django_filters",
    "accounts",
    "loans",
    "collection",
    "legal",
    # Last: the demo desk sits above every business app (it writes users, the portfolio and its
    # worked history, and runs the nightly cycle).
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.DeskLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: every audit entry a request writes names its user (docs/audit.md).
    "auditlog.middleware.AuditlogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.desk_user",
            ],
        },
    },
]

# Database: SQLite under var/ by default; PostgreSQL in production and CI.
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # JIT compilation costs close to a second on the correlated UPDATEs of the portfolio passes
    # and gains nothing on the desk's short queries.
    options = "-c jit=off"
    # The pages read a collector's thousand cases at most: PostgreSQL's parallel workers cost more
    # to start than they save there (a third of the queue's time at a million loans). The web
    # service sets DESK_DB_PARALLEL_WORKERS=0; the worker keeps PostgreSQL's default for the
    # nightly cycle's passes over the whole portfolio.
    parallel_workers = env("DESK_DB_PARALLEL_WORKERS", default="")
    if parallel_workers != "":
        options += f" -c max_parallel_workers_per_gather={int(parallel_workers)}"
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", options)
else:
    # The index of unpaid installments' due dates carries the loan's id for PostgreSQL's
    # index-only scans; SQLite builds it without, which is all the warning says.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
# The dashboard reads whole periods of attempts, payments and reminders: its reads ask for this
# many parallel workers whatever the connection's setting (collection.dashboard.selectors).
DESK_DASHBOARD_PARALLEL_WORKERS = env.int("DESK_DASHBOARD_PARALLEL_WORKERS", default=2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out username and address before any password is checked;
# the desk's own backend refuses the `system` account (accounts.backends).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "accounts.backends.DeskBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout (django-axes), on the desk's login and the admin's: after DESK_LOGIN_FAILURE_LIMIT
# failed logins for one username from one address, that pair is refused for
# DESK_LOGIN_COOL_OFF_MINUTES (each try while locked starts the wait again); an admin unlocks
# earlier by deleting the attempt in the admin (Administration > Axes > Access attempts).
AXES_ENABLED = True
AXES_FAILURE_LIMIT = env.int("DESK_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("DESK_LOGIN_COOL_OFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.login_security.lockout_response"
# Logins and logouts (AccessLog) and every failed login (AccessFailureLog) are kept; the admin
# shows them read-only.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_ENABLE_ADMIN = False
# Masked in the log lines and in the form data an access attempt keeps (the password always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]
# A reverse proxy in front (DESK_TRUSTED_PROXY, see production) hands over the client's address
# in X-Forwarded-For; without one the connection's address is the client's.
DESK_TRUSTED_PROXY = env.bool("DESK_TRUSTED_PROXY", default=False)
if DESK_TRUSTED_PROXY:
    AXES_CLIENT_IP_CALLABLE = "accounts.login_security.client_ip_behind_proxy"

# Sessions end after DESK_SESSION_IDLE_MINUTES without a request (each request starts the
# count again) and when the browser closes.
SESSION_COOKIE_AGE = env.int("DESK_SESSION_IDLE_MINUTES", default=30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# The environment the settings are for: seed_demo refuses "production" (config.settings.production).
DESK_ENVIRONMENT = "development"

# Content-Security-Policy (django-csp): scripts, styles and images from the desk itself only,
# never inline (no 'unsafe-inline'); the admin's inline data is <script type="application/json">,
# which CSP does not block.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Internationalisation: the desk works in Simplified Chinese; English ships too.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
# Portfolio files uploaded through the admin can be large; they are streamed from disk.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Portfolio imports: a line longer than this is refused as a row error (no row of a portfolio file
# comes near it; a file without line breaks would otherwise be read whole), and the admin refuses
# an upload larger than this (larger files go through the import_portfolio command). The web
# server in front should refuse bodies above the upload cap too (nginx client_max_body_size).
DESK_IMPORT_MAX_LINE_BYTES = env.int("DESK_IMPORT_MAX_LINE_BYTES", default=1024 * 1024)
DESK_IMPORT_MAX_UPLOAD_BYTES = env.int("DESK_IMPORT_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)

# Redis, when there is one, serves the cache and the Celery broker.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery. Without a broker server the filesystem transport under var/celery/ carries the
# messages, so one machine runs web, worker and beat with nothing else installed.
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("queue", "processed", "control"):
        (CELERY_FILESYSTEM_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "processed_folder": str(CELERY_FILESYSTEM_DIR / "processed"),
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        "store_processed": False,
    }
# Results are kept only where a workflow needs them (the nightly cycle's chain of steps); with
# Redis they go there, without it the cycle runs its steps inside one task.
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 24 * 3600
# Run the nightly cycle's steps as tasks on the workers (with a result backend).
COLLECTION_CYCLE_FAN_OUT = env.bool("COLLECTION_CYCLE_FAN_OUT", default=True)
# Loans per transaction when the nightly ageing reads every loan (first run, new rules, a day far off).
COLLECTION_CYCLE_BATCH_SIZE = env.int("COLLECTION_CYCLE_BATCH_SIZE", default=20_000)
# Succeeded runs of the frequent jobs (reminder dispatch, promise evaluation) are kept this many
# days, the latest of each always; failed runs and the nightly cycle's are kept.
COLLECTION_JOB_RUNS_KEPT_DAYS = env.int("COLLECTION_JOB_RUNS_KEPT_DAYS", default=90)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Transition log (django-fsm-log): written in the same transaction as the transition.
DJANGO_FSM_LOG_STORAGE_METHOD = "django_fsm_log.backends.SimpleBackend"

# --- The audit trail (django-auditlog; docs/audit.md) -------------------------------------------
# Every model whose change matters, in one list: who changed what, when, old and new values.
# Each entry is a dict (a misspelt dict entry stops the start; a misspelt string would be skipped).
# National IDs and phone numbers are masked in the stored diff, password hashes never stored;
# columns that move on every run (ageing flags, beat's run counters) are left out.
_AUDIT_MASK_ID = "loans.audit.national_id_for_trail"
_AUDIT_MASK_CONTACT = "loans.audit.contact_value_for_trail"
# Rows loaded from a fixture (loaddata, a test's serialized rollback) are not changes anyone made.
AUDITLOG_DISABLE_ON_RAW_SAVE = True
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    # money
    {"model": "loans.Payment"},
    {"model": "loans.PaymentAllocation"},
    {"model": "loans.Installment"},
    # the portfolio
    {"model": "loans.Borrower", "mask_fields": ["national_id"], "mask_callable": _AUDIT_MASK_ID},
    {"model": "loans.Contact", "mask_fields": ["value"], "mask_callable": _AUDIT_MASK_CONTACT},
    {"model": "loans.Loan", "exclude_fields": ["days_past_due", "needs_ageing", "updated_at"]},
    # configuration
    {"model": "loans.Product"},
    {"model": "loans.DelinquencyBucket"},
    {"model": "collection.StageRule"},
    {"model": "collection.ConductPolicy", "exclude_fields": ["updated_at"]},
    {"model": "collection.ReminderStep"},
    {"model": "collection.CaseRouting"},
    {"model": "django_celery_beat.PeriodicTask", "exclude_fields": ["last_run_at", "total_run_count", "date_changed"]},
    {"model": "django_celery_beat.CrontabSchedule"},
    {"model": "django_celery_beat.IntervalSchedule"},
    # people, roles and teams
    {
        "model": "accounts.User",
        "exclude_fields": ["last_login"],
        # A new password is recorded as changed, never its hash.
        "mask_fields": ["password"],
        "mask_callable": "accounts.audit.mask_secret",
        "m2m_fields": ["groups", "user_permissions"],
    },
    {"model": "auth.Group", "m2m_fields": ["permissions"]},
    {"model": "accounts.Team", "m2m_fields": ["members"]},
    # cases: who works them and what was settled (stages, holds and closings are in the transition
    # log; the counters the services keep are left out)
    {
        "model": "collection.CollectionCase",
        "exclude_fields": [
            "stage",
            "stage_entered_at",
            "closed_at",
            "held_stage",
            "hold_reason",
            "close_reason",
            "last_right_party_contact_at",
            "broken_promises",
            "attention_since",
        ],
    },
    {"model": "collection.EscalationRequest"},
    {"model": "collection.RepaymentPlan"},
    {"model": "collection.PromiseToPay"},
    {"model": "collection.Callback"},
    {"model": "collection.CaseNote"},
    {"model": "collection.CallScript", "exclude_fields": ["updated_at"]},
    # the legal track (its states are in the transition log)
    {"model": "legal.LegalCase", "exclude_fields": ["state", "state_entered_at", "closed_at"]},
    *(
        {"model": f"legal.{model}"}
        for model in (
            "LawyerLetter",
            "Mediation",
            "PaymentOrder",
            "Filing",
            "Hearing",
            "Judgment",
            "Enforcement",
            "EnforcementReceipt",
            "FrozenAsset",
            "LegalCost",
            "LimitationEvent",
            "Court",
            "LawFirm",
            "LetterTemplate",
            "LegalDocument",
        )
    ),
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- Reminders and their channels (collection.messaging, collection.channels) ---------------
# SMS goes through the backend named here: FileSmsBackend (the default: JSON lines in a file,
# nothing leaves the machine), ConsoleSmsBackend (printed), HttpSmsGateway (POSTs to the
# gateway at COLLECTION_SMS_GATEWAY_URL, https only, with COLLECTION_SMS_GATEWAY_KEY). E-mail goes through
# Django's EMAIL_BACKEND; letters are written into a dated print batch folder.
COLLECTION_SMS_BACKEND = env("COLLECTION_SMS_BACKEND", default="collection.channels.FileSmsBackend")
COLLECTION_SMS_FILE = env("COLLECTION_SMS_FILE", default=str(VAR_DIR / "sms" / "outbox.jsonl"))
# The file and console backends write numbers masked (138****5678); off only where a real gateway
# reads the outbox file and needs them whole.
COLLECTION_SMS_OUTBOX_MASKED = env.bool("COLLECTION_SMS_OUTBOX_MASKED", default=True)
COLLECTION_SMS_GATEWAY_URL = env("COLLECTION_SMS_GATEWAY_URL", default="")
COLLECTION_SMS_GATEWAY_KEY = env("COLLECTION_SMS_GATEWAY_KEY", default="")
COLLECTION_SMS_GATEWAY_TIMEOUT = env.float("COLLECTION_SMS_GATEWAY_TIMEOUT", default=10.0)
COLLECTION_LETTER_DIR = env("COLLECTION_LETTER_DIR", default=str(VAR_DIR / "letters"))
# What the reminder texts call the lender and the number they give the borrower to call.
COLLECTION_COMPANY_NAME = env("COLLECTION_COMPANY_NAME", default="示例消费金融")
COLLECTION_HOTLINE = env("COLLECTION_HOTLINE", default="400-800-0000")
# A send the backend refuses is tried again after 1, 2, 4, 8... times the base, then failed.
COLLECTION_MESSAGE_MAX_ATTEMPTS = env.int("COLLECTION_MESSAGE_MAX_ATTEMPTS", default=5)
COLLECTION_MESSAGE_RETRY_BASE_SECONDS = env.int("COLLECTION_MESSAGE_RETRY_BASE_SECONDS", default=60)
# E-mail: Django's backend by name; by default written to files under var/mail (nothing leaves
# the machine). Production sets the SMTP backend and EMAIL_HOST etc.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="collections@example.invalid")
# --- end of reminders ---------------------------------------------------------------------------

# --- Money that cannot be bent (loans.services, collection.services.cases) -----------------------
# A payment reversal above this amount waits for a second person's approval.
DESK_PAYMENT_REVERSAL_APPROVAL_ABOVE = Decimal(env("DESK_PAYMENT_REVERSAL_APPROVAL_ABOVE", default="5000.00"))
# A settlement paying less than this share of what is outstanding (0.80 = 80%) needs a
# supervisor's approval, by someone other than who agreed it.
DESK_SETTLEMENT_APPROVAL_BELOW_SHARE = Decimal(env("DESK_SETTLEMENT_APPROVAL_BELOW_SHARE", default="0.80"))

# The desk's working hours, in its time zone (TIME_ZONE): the team board flags a collector idle
# when they have done nothing for an hour within them (collection.supervision.team_selectors).
DESK_WORKING_HOURS = tuple(
    datetime.time.fromisoformat(moment) for moment in env.list("DESK_WORKING_HOURS", default=["09:00", "18:00"])
)

# --- The legal track's deadlines (legal.deadlines, legal.reminders; docs/legal-deadlines.md) -----
# The responsible legal officer is e-mailed this many days before each deadline of a legal case
# (a comma-separated list of whole days, at least 1), and once when a deadline passed without any
# reminder; the limitation period of a debt is also warned of LEGAL_LIMITATION_WARNING_DAYS before.
LEGAL_DEADLINE_REMINDER_DAYS = tuple(
    sorted({int(days) for days in env.list("LEGAL_DEADLINE_REMINDER_DAYS", default=["7", "1"])}, reverse=True)
)
if not LEGAL_DEADLINE_REMINDER_DAYS or min(LEGAL_DEADLINE_REMINDER_DAYS) < 1:
    raise ImproperlyConfigured("LEGAL_DEADLINE_REMINDER_DAYS lists whole days before a deadline, each at least 1.")
LEGAL_LIMITATION_WARNING_DAYS = env.int("LEGAL_LIMITATION_WARNING_DAYS", default=90)

# The legal track's documents: stored apart from the static and media roots, served only by the
# download view to those allowed (docs/legal-documents.md).
LEGAL_DOCUMENTS_ROOT = Path(env("LEGAL_DOCUMENTS_ROOT", default=str(VAR_DIR / "legal-documents")))
LEGAL_DOCUMENT_MAX_BYTES = env.int("LEGAL_DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024)
# The TrueType font embedded in the letters' PDFs (a Song typeface; its subset of the glyphs used):
# Debian's fonts-arphic-uming, which the Dockerfile and .ci/run install. A .ttc file takes the
# index of its face (0: AR PL UMing CN). Without the file the letters reference a font instead
# (legal.letters; the check legal.W001 says so).
LEGAL_LETTER_FONT_FILE = Path(env("LEGAL_LETTER_FONT_FILE", default="/usr/share/fonts/truetype/arphic/uming.ttc"))
LEGAL_LETTER_FONT_INDEX = env.int("LEGAL_LETTER_FONT_INDEX", default=0)
