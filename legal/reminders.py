"""Reminders of the legal cases' deadlines (legal.deadlines), e-mailed to the legal officers
(docs/legal-deadlines.md).

A deadline is reminded LEGAL_DEADLINE_REMINDER_DAYS before it (7 and 1 by default), and the
limitation period of a debt LEGAL_LIMITATION_WARNING_DAYS (90) before it as well: the warning is
the flag that the debt is about to become time-barred. Each lead time is reminded once, the first
day the job runs within it (a run missed is made up the next day: a deadline 5 days off that had
no 7-day reminder gets it then, and the 1-day reminder later). A deadline that passed without any
reminder (recorded late, or the job was down) is reminded once, with days_before 0.

The reminder goes to the case's legal officer; a case without one, or whose officer left or has no
e-mail address, to every active legal officer with one (the legal department works the whole
portfolio). Each reminder is a DeadlineReminder row, written before the e-mail and marked sent
after it, so a run twice sends once; each officer gets one e-mail a run listing their deadlines,
and an e-mail that fails leaves that officer's rows unsent for the next run without keeping the
others from going out. A row whose deadline was answered before it went out is dropped."""

import datetime
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import roles
from accounts.models import User
from config.desk import in_desk_language

from .deadlines import Deadline, legal_case_deadlines, legal_cases_with_next_deadline, with_deadline_records
from .machine import ACTIVE_STATES
from .models import DeadlineKind, DeadlineReminder, LegalCase

__all__ = ["PASSED", "deadline_reminders_send", "lead_times", "reminder_lead_due"]

logger = logging.getLogger(__name__)

# days_before of the one reminder of a deadline that passed without any.
PASSED = 0
# Legal cases read at a time when planning.
CHUNK = 500


def lead_times(kind: str) -> tuple[int, ...]:
    """The days before a deadline of `kind` its reminders go out, the longest first."""
    leads = set(settings.LEGAL_DEADLINE_REMINDER_DAYS)
    if kind == DeadlineKind.LIMITATION:
        leads.add(settings.LEGAL_LIMITATION_WARNING_DAYS)
    return tuple(sorted(leads, reverse=True))


def reminder_lead_due(deadline: Deadline, *, today: datetime.date, reminded: bool) -> int | None:
    """The lead time whose reminder of `deadline` is due on `today`: the shortest lead time not
    shorter than the days left (5 days left with 7 and 1: the 7-day one); PASSED for a deadline
    that passed without any reminder (`reminded`: any was planned); None when none is due."""
    days_left = deadline.days_left(today)
    if days_left < 0:
        return None if reminded else PASSED
    within = [lead for lead in lead_times(deadline.kind) if days_left <= lead]
    return min(within) if within else None


def _key(legal_case_id: int, kind: str, record_id: int, due_on: datetime.date) -> tuple:
    return (legal_case_id, kind, record_id, due_on)


def _legal_officers() -> list[User]:
    return list(
        User.objects.filter(is_active=True, groups__name=roles.LEGAL_OFFICER)
        .exclude(Q(email="") | Q(username=roles.SYSTEM_USERNAME))
        .distinct()
        .order_by("pk")
    )


def _recipients(legal_case: LegalCase, legal_officers: list[User]) -> list[User]:
    officer = legal_case.officer
    if officer is not None and officer.is_active and officer.email:
        return [officer]
    return legal_officers


def _plan(*, today: datetime.date) -> int:
    """Write the reminders due on `today` (unsent), once per deadline, lead time and recipient;
    the number of deadlines reminded."""
    longest = max(lead_times(DeadlineKind.LIMITATION))
    # Only cases whose next deadline is within the longest lead time (or passed) can have one due.
    candidates = (
        legal_cases_with_next_deadline(LegalCase.objects.filter(state__in=ACTIVE_STATES), today=today)
        .filter(next_deadline_on__lte=today + datetime.timedelta(days=longest))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    legal_officers = _legal_officers()
    candidate_ids = list(candidates)
    deadlines_due = 0
    for start in range(0, len(candidate_ids), CHUNK):
        ids = candidate_ids[start : start + CHUNK]
        cases = with_deadline_records(LegalCase.objects.filter(pk__in=ids).select_related("officer"))
        reminded = {
            _key(*row)
            for row in DeadlineReminder.objects.filter(legal_case__in=ids).values_list(
                "legal_case_id", "kind", "record_id", "due_on"
            )
        }
        rows = []
        for legal_case in cases:
            recipients = _recipients(legal_case, legal_officers)
            for deadline in legal_case_deadlines(legal_case, today=today):
                key = _key(legal_case.pk, deadline.kind, deadline.record_id, deadline.due_on)
                lead = reminder_lead_due(deadline, today=today, reminded=key in reminded)
                if lead is None:
                    continue
                if not recipients:
                    logger.warning(
                        "No active legal officer with an e-mail address to remind of %s on legal case %s",
                        deadline.kind,
                        legal_case.pk,
                    )
                    continue
                deadlines_due += 1
                rows.extend(
                    DeadlineReminder(
                        legal_case=legal_case,
                        kind=deadline.kind,
                        record_id=deadline.record_id,
                        due_on=deadline.due_on,
                        days_before=lead,
                        to=recipient,
                    )
                    for recipient in recipients
                )
        # A reminder already planned (this lead time, this recipient) stays as it is.
        DeadlineReminder.objects.bulk_create(rows, ignore_conflicts=True)
    return deadlines_due


def _when(days_left: int) -> str:
    if days_left > 0:
        return ngettext("in %(days)d day", "in %(days)d days", days_left) % {"days": days_left}
    if days_left == 0:
        return _("today")
    return ngettext("%(days)d day overdue", "%(days)d days overdue", -days_left) % {"days": -days_left}


def _email(recipient: User, lines: list[tuple[Deadline, LegalCase]], *, today: datetime.date) -> EmailMessage:
    with in_desk_language():  # already, when called by deadline_reminders_send
        subject = ngettext(
            "Legal case deadline: %(count)d to watch", "Legal case deadlines: %(count)d to watch", len(lines)
        ) % {"count": len(lines)}
        body = [
            _("Hello %(name)s,") % {"name": recipient.get_full_name() or recipient.username},
            "",
            _("These deadlines of legal cases are near or have passed:"),
            "",
        ]
        for deadline, legal_case in lines:
            body.append(
                _("%(due_on)s (%(when)s) %(kind)s: %(what)s; legal case %(case)s, loan %(loan)s")
                % {
                    "due_on": deadline.due_on.isoformat(),
                    "when": _when(deadline.days_left(today)),
                    "kind": deadline.label,
                    "what": deadline.what,
                    "case": legal_case.pk,
                    "loan": legal_case.case.loan.account_number,
                }
            )
        body += ["", _("Each deadline is reminded once at each lead time."), _("The collection desk")]
    return EmailMessage(subject=subject, body="\n".join(body) + "\n", to=[recipient.email])


def _send_to(recipient_id: int, *, today: datetime.date) -> int:
    """Send `recipient_id` their unsent reminders still open, in one e-mail, and mark them sent;
    drop those whose deadline was answered. The number of deadlines sent."""
    with transaction.atomic():
        rows = list(
            DeadlineReminder.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(to_id=recipient_id, sent_at__isnull=True)
            .select_related("to")
        )
        if not rows:
            return 0
        cases = with_deadline_records(
            LegalCase.objects.filter(pk__in={row.legal_case_id for row in rows}).select_related("case__loan")
        )
        open_deadlines = {
            _key(legal_case.pk, deadline.kind, deadline.record_id, deadline.due_on): (deadline, legal_case)
            for legal_case in cases
            for deadline in legal_case_deadlines(legal_case, today=today)
        }
        keys = {row.pk: _key(row.legal_case_id, row.kind, row.record_id, row.due_on) for row in rows}
        answered = [pk for pk, key in keys.items() if key not in open_deadlines]
        DeadlineReminder.objects.filter(pk__in=answered).delete()
        due = sorted({key for key in keys.values() if key in open_deadlines}, key=lambda key: (key[3], key))
        if not due:
            return 0
        recipient = rows[0].to
        lines = [open_deadlines[key] for key in due]
        _email(recipient, lines, today=today).send(fail_silently=False)
        DeadlineReminder.objects.filter(pk__in=[pk for pk, key in keys.items() if key in open_deadlines]).update(
            sent_at=timezone.now()
        )
        return len(lines)


def deadline_reminders_send(*, today: datetime.date) -> dict[str, int]:
    """The day's deadline reminders: plan those due on `today` (module docstring), then send every
    unsent one, this run's and those a failed e-mail left, one e-mail per legal officer. Running it
    again the same day sends nothing more. Returns the deadlines planned, the e-mails sent and
    failed, and the deadlines they carried."""
    # What the e-mails say (the kinds, the records' names) is in the desk's language.
    with in_desk_language():
        counts = {"planned": _plan(today=today), "emails": 0, "deadlines": 0, "failed": 0}
        recipients = DeadlineReminder.objects.filter(sent_at__isnull=True).values_list("to_id", flat=True)
        for recipient_id in sorted(set(recipients)):
            try:
                sent = _send_to(recipient_id, today=today)
            except Exception:  # smtplib, socket and backend errors alike: the next run sends them
                logger.exception("Deadline reminders to user %s could not be sent", recipient_id)
                counts["failed"] += 1
                continue
            if sent:
                counts["emails"] += 1
                counts["deadlines"] += sent
    return counts
