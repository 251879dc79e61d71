"""Text of the third-party apps the desk shows in its admin (django-auditlog ships no Chinese).
Named here, and never called, so that `makemessages` keeps these msgids in the desk's catalogue,
which translates them wherever auditlog shows them."""

from django.utils.translation import gettext_noop

AUDITLOG_TEXT = [
    gettext_noop("Audit log: %s"),
    gettext_noop("Changes"),
    gettext_noop("Click to filter by records with this correlation id"),
    gettext_noop("Correlation ID"),
    gettext_noop("Created"),
    gettext_noop("Resource Type"),
    gettext_noop("Resource"),
    gettext_noop("User"),
    gettext_noop("View"),
    gettext_noop("access"),
    gettext_noop("action"),
    gettext_noop("actor"),
    gettext_noop("additional data"),
    gettext_noop("change message"),
    gettext_noop("content type"),
    gettext_noop("create"),
    gettext_noop("delete"),
    gettext_noop("object id"),
    gettext_noop("object pk"),
    gettext_noop("object representation"),
    gettext_noop("remote address"),
    gettext_noop("remote port"),
    gettext_noop("timestamp"),
    gettext_noop("update"),
]
