"""Who the audit trail names as the actor of a change (django-auditlog; docs/audit.md).

In a request, auditlog's middleware names the request's user. Outside one, work is attributed
here: a Celery task runs as the desk's `system` account (config.celery_app wraps every task), a
management command as the user it was told it runs for, or `system`."""

import contextlib
import functools
from collections.abc import Iterator

from auditlog.context import auditlog_value, set_extra_data
from celery import Task
from django.contrib.auth import get_user_model

from .roles import SYSTEM_USERNAME


def system_account():
    """The desk's own account, which the scheduled jobs act as."""
    return get_user_model().objects.get(username=SYSTEM_USERNAME)


@contextlib.contextmanager
def audit_actor(user=None) -> Iterator[None]:
    """Record every audited change made inside the block as made by `user` (default: the desk's
    `system` account, read only when the block writes an entry: a task that changes nothing
    costs no query). Blocks nest: on leaving one, the actor of the block around it applies again
    (auditlog's own set_actor forgets it)."""
    if user is not None:
        actor_id = functools.partial(getattr, user, "pk")
    else:
        actor_id = functools.cache(lambda: system_account().pk)
    around = auditlog_value.get(None)
    try:
        # auditlog sets each LogEntry attribute named here as the entry is saved, calling a callable.
        with set_extra_data({"actor_id": actor_id}):
            yield
    finally:
        if around is not None:
            auditlog_value.set(around)


def audit_change(instance, changes: dict[str, tuple], *, by=None, reason: str = ""):
    """Record a change a service wrote without saving the model (an UPDATE of a queryset, which
    sends no signal auditlog could hear): `changes` is {field: (old, new)}, `reason` why (kept in
    the entry's additional data). The actor is `by`, or whoever the request or block names."""
    from auditlog.models import LogEntry

    changes = {field: [_text(old), _text(new)] for field, (old, new) in changes.items() if _text(old) != _text(new)}
    if not changes:
        return None
    return LogEntry.objects.log_create(
        instance,
        action=LogEntry.Action.UPDATE,
        changes=changes,
        **({"actor": by} if by is not None else {}),
        **({"additional_data": {"reason": reason}} if reason else {}),
    )


def audit_reveal(instance, *, field: str, by):
    """Record that `by` was shown the full value of `field` of `instance` (a national ID, a phone
    number): who, whose and when, as an "access" entry of the audit trail."""
    from auditlog.models import LogEntry

    return LogEntry.objects.log_create(
        instance,
        action=LogEntry.Action.ACCESS,
        force_log=True,
        changes=None,
        actor=by,
        additional_data={"revealed": field},
    )


def mask_secret(value: str) -> str:
    """What the trail keeps of a secret (a password hash): that there was one, not what it was."""
    return "********" if value else ""


def _text(value) -> str:
    if value is None:
        return "None"
    return str(getattr(value, "pk", value))


class AuditedTask(Task):
    """The base of every Celery task (config.celery_app): a task has no request user, so its
    changes are recorded as the desk's `system` account's. The one place that says who tasks act as."""

    def __call__(self, *args, **kwargs):
        with audit_actor():
            return super().__call__(*args, **kwargs)
