"""The limitation flag (docs/legal-deadlines.md): each night the collection cycle flags the legal
cases whose debt's limitation period ends within LEGAL_LIMITATION_WARNING_DAYS (90) days, or has
ended, while no court has the claim (legal.deadlines.limitation_running). The flag is
`LegalCase.limitation_flagged_on`, the night it was first raised; the legal queue shows it and
filters on it. It is lowered when the period starts again (a demand, an acknowledgement, a suit:
legal.services) or a court takes the claim, and the cycle lowers it too for a case no longer
close to the end, so the flags always say what the night found.

The step is legal's, added to collection's cycle from LegalConfig.ready() (collection never
imports legal); it is set-based, two UPDATEs, and a second run the same night changes nothing.
`limitation_flags_set_case_by_case` is the same rule one case at a time, through the deadlines'
Python (collection.cycle_reference runs it)."""

import datetime
from collections import Counter

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from collection.cycle import CycleStep

from .deadlines import legal_case_deadlines, limitation_ends_sql, limitation_running, with_deadline_records
from .models import DeadlineKind, LegalCase

__all__ = ["LIMITATION_STEP", "limitation_flags_set", "limitation_flags_set_case_by_case", "limitation_warning_until"]


def limitation_warning_until(as_of: datetime.date) -> datetime.date:
    """The last day a limitation period may end on and be flagged on the night of `as_of`."""
    return as_of + datetime.timedelta(days=settings.LEGAL_LIMITATION_WARNING_DAYS)


def limitation_flags_set(*, as_of: datetime.date, **_context) -> dict[str, int]:
    """Flag the legal cases close to the end of their limitation period on `as_of` that are not
    flagged yet, and lower the flag of those no longer close; the numbers of each."""
    near = limitation_running() & Q(limitation_ends_on__lte=limitation_warning_until(as_of))
    cases = LegalCase.objects.alias(limitation_ends_on=limitation_ends_sql())
    flagged = LegalCase.objects.filter(
        pk__in=cases.filter(near, limitation_flagged_on__isnull=True).values("pk")
    ).update(limitation_flagged_on=as_of)
    lowered = LegalCase.objects.filter(
        pk__in=cases.filter(limitation_flagged_on__isnull=False).exclude(near).values("pk")
    ).update(limitation_flagged_on=None)
    counts = {"limitation_flagged": flagged, "limitation_flags_lowered": lowered}
    return {name: count for name, count in counts.items() if count}


def limitation_flags_set_case_by_case(*, as_of: datetime.date, loan_ids, counts: Counter, **_context) -> None:
    """limitation_flags_set for the legal cases of the given loans, one case at a time."""
    until = limitation_warning_until(as_of)
    legal_cases = with_deadline_records(LegalCase.objects.filter(case__loan_id__in=loan_ids).order_by("pk"))
    for legal_case in legal_cases:
        near = any(
            deadline.kind == DeadlineKind.LIMITATION and deadline.due_on <= until
            for deadline in legal_case_deadlines(legal_case, today=as_of)
        )
        if near and legal_case.limitation_flagged_on is None:
            legal_case.limitation_flagged_on = as_of
            counts["limitation_flagged"] += 1
        elif not near and legal_case.limitation_flagged_on is not None:
            legal_case.limitation_flagged_on = None
            counts["limitation_flags_lowered"] += 1
        else:
            continue
        legal_case.save(update_fields=["limitation_flagged_on"])


LIMITATION_STEP = CycleStep(
    "limitation",
    _("Limitation flags"),
    {
        "limitation_flagged": _("debts flagged near the end of their limitation period"),
        "limitation_flags_lowered": _("limitation flags lowered"),
    },
    run=limitation_flags_set,
    reference=limitation_flags_set_case_by_case,
)
