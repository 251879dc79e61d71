from auditlog.apps import AuditlogConfig
from axes.apps import AppConfig as AxesConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default = True  # the module holds two more configs, for the third-party apps below
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = _("Accounts and teams")


def _call(model, singular, plural) -> None:
    model._meta.verbose_name, model._meta.verbose_name_plural = singular, plural


class LoginRecordsConfig(AxesConfig):
    """django-axes (the login lockout and the records of logins), named in the desk's words: axes
    ships no Chinese."""

    verbose_name = _("Logins")

    def ready(self):
        super().ready()
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        _call(AccessAttempt, _("failed logins counting to a lockout"), _("failed logins counting to a lockout"))
        _call(AccessFailureLog, _("failed login"), _("failed logins"))
        _call(AccessLog, _("login"), _("logins and logouts"))


class AuditTrailConfig(AuditlogConfig):
    """django-auditlog (docs/audit.md), named in the desk's words: auditlog ships no Chinese."""

    verbose_name = _("Audit trail")

    def ready(self):
        super().ready()
        from auditlog.models import LogEntry

        _call(LogEntry, _("audit entry"), _("audit entries"))
