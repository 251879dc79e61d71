"""Production: refuses to start without a real SECRET_KEY and ALLOWED_HOSTS, and passes
`manage.py check --deploy` with nothing to report. TLS is expected at a reverse proxy in front of
gunicorn (see docker-compose.yml)."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import DESK_TRUSTED_PROXY, env

DESK_ENVIRONMENT = "production"
DEBUG = False
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment for production.")
# The placeholder of .env.example and the development default are public; a short or repetitive
# key is what Django's own check calls weak (security.W009).
PUBLIC_KEYS = {"change-me-to-50-random-characters", "insecure-development-key-change-me"}
if SECRET_KEY in PUBLIC_KEYS or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        "SECRET_KEY must be a random string of at least 50 characters for production, not the example's placeholder "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in the environment for production.")

# HTTPS only. SECURE_SSL_REDIRECT may be turned off when the TLS proxy in front redirects plain
# HTTP itself; the deploy check's reminder about it is then silenced, as the proxy does the work.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
if not SECURE_SSL_REDIRECT:
    SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "security.W008"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Only a domain submitted to the browsers' preload list is affected by this flag.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
# X-Forwarded-Proto is believed only when DESK_TRUSTED_PROXY says a reverse proxy in front sets
# it and overwrites whatever the client sent; otherwise any client could claim HTTPS.
if DESK_TRUSTED_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
LANGUAGE_COOKIE_SECURE = env.bool("LANGUAGE_COOKIE_SECURE", default=True)
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
