"""What the benchmark requests: the queue plain, filtered and searched, the case page over the
collector's cases, and a call logged on cases of its own, with terms and cases taken from the
database."""

import datetime
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from bench.collection_cycle.server import BenchError

from .build import COLLECTOR, DESK_ZONE

HTMX = {"HX-Request": "true"}
# The queue's filters (django-filter fields of the queue page), each requested on its own.
YES_NO_FILTERS = ("broken_promise", "promise_due_today", "callback_due", "no_contact_7d", "on_hold")
# Where a borrower may live: the zone in which it is nearest mid-day is given to the borrowers whose
# cases a call is logged on when the run falls in China's quiet hours.
ZONES = (
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Dubai",
    "Europe/Moscow",
    "Europe/Berlin",
    "Europe/London",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Pacific/Auckland",
    "Australia/Sydney",
)
# The local time the zone is chosen for, and the hours of the day the calls are allowed in.
MIDDAY = 13 * 60 + 30
DAY_HOURS = (8, 22)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    data: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)


@dataclass
class Operation:
    """Requests timed together: `requests` are sent in turn (the first ones to warm up), round and
    round if there are fewer than asked; `once` sends each at most once (a call logged on a case)."""

    label: str
    requests: list[Request]
    expected: tuple[int, ...] = (200,)
    once: bool = False


@dataclass(frozen=True)
class Sample:
    """The collector's cases and what a collector would type to find one: a loan number, a family
    name, the last four digits of a phone number."""

    collector: object
    case_ids: list[int]
    account_number: str
    family_name: str
    phone_last_digits: str
    bucket_id: int | None
    product_id: int | None


def sample_from_database() -> Sample:
    from django.contrib.auth import get_user_model

    from collection.machine import OPEN_STAGES
    from collection.models import CollectionCase
    from loans.models import Contact

    collector = get_user_model().objects.get(username=COLLECTOR)
    cases = CollectionCase.objects.filter(assigned_to=collector, stage__in=OPEN_STAGES).order_by("pk")
    case_ids = list(cases.values_list("pk", flat=True))
    if not case_ids:
        raise BenchError(f"{COLLECTOR} holds no open case: build the portfolio first")
    middle = cases.select_related("loan__borrower").get(pk=case_ids[len(case_ids) // 2])
    mobile = Contact.objects.filter(borrower=middle.loan.borrower_id, kind="mobile").order_by("pk").first()

    def most_common(field_name: str) -> int | None:
        row = cases.values(field_name).annotate(n=Count("pk")).order_by("-n", field_name).first()
        return row[field_name] if row else None

    return Sample(
        collector=collector,
        case_ids=case_ids,
        account_number=middle.loan.account_number,
        family_name=middle.loan.borrower.name[:1],
        phone_last_digits=mobile.value[-4:] if mobile else "0000",
        bucket_id=most_common("loan__bucket"),
        product_id=most_common("loan__product"),
    )


def _reverse(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch as error:
        raise BenchError(f"the workspace has no page {name!r} on this branch yet: {error}") from None


def page_operations(sample: Sample, *, seed: int = 1) -> list[Operation]:
    """The queue plain, filtered, searched; the case page over the collector's cases in a shuffled order."""
    queue = _reverse("collection:queue")
    operations = [Operation("queue", [Request("GET", queue)])]
    filters = [("stage=negotiation", {"stage": "negotiation"})]
    filters += [(f"{name}=1", {name: "1"}) for name in YES_NO_FILTERS]
    if sample.bucket_id is not None:
        filters.append(("bucket", {"bucket": sample.bucket_id}))
    if sample.product_id is not None:
        filters.append(("product", {"product": sample.product_id}))
    operations += [Operation(f"queue filter {label}", [Request("GET", queue, params)]) for label, params in filters]
    searches = [
        ("loan number", sample.account_number),
        ("family name", sample.family_name),
        ("phone last 4", sample.phone_last_digits),
    ]
    operations += [Operation(f"queue search {label}", [Request("GET", queue, {"q": term})]) for label, term in searches]
    shuffled = list(sample.case_ids)
    random.Random(f"case-pages-{seed}").shuffle(shuffled)
    operations.append(Operation("case page", [Request("GET", _reverse("collection:case", pk)) for pk in shuffled]))
    # The case page loads its timeline once shown (htmx): the second request of opening a case.
    timelines = [Request("GET", _reverse("collection:case_timeline", pk), headers=HTMX) for pk in shuffled]
    operations.append(Operation("case timeline (htmx)", timelines))
    return operations


# --- logging a call --------------------------------------------------------------------------------


def day_zone(now: datetime.datetime) -> ZoneInfo:
    """The zone of ZONES where it is nearest mid-day now."""

    def distance(name: str) -> int:
        local = now.astimezone(ZoneInfo(name))
        return abs(local.hour * 60 + local.minute - MIDDAY)

    return ZoneInfo(min(ZONES, key=distance))


def in_day_hours(now: datetime.datetime, zone: ZoneInfo) -> bool:
    return DAY_HOURS[0] <= now.astimezone(zone).hour < DAY_HOURS[1] - 1


@dataclass
class AttemptPlan:
    operations: list[Operation]
    zone: ZoneInfo
    notes: list[str]


def attempt_operations(sample: Sample, *, per_operation: int, now: datetime.datetime | None = None) -> AttemptPlan:
    """A call logged, unanswered, with a callback for tomorrow, each on a case of its own:

    - on cases the conduct limits allow now (borrowers in Asia/Shanghai, or when it is night in
      China, borrowers moved to where it is day): expected 302;
    - on cases they refuse, the borrower spoken with a few days ago (the pause after a
      conversation; the same zone): expected 422;
    - when it is night in China, on borrowers in Asia/Shanghai as they are: refused for quiet hours.

    The cases are sorted by the conduct check itself, read-only, as of now."""
    from collection.conduct import conduct_check
    from collection.exceptions import ConductViolation
    from collection.machine import WORKING_STAGES
    from collection.models import CollectionCase
    from loans.models import Borrower, Contact

    now = now or timezone.now()
    shanghai_by_day = in_day_hours(now, DESK_ZONE)
    zone = DESK_ZONE if shanghai_by_day else day_zone(now)
    cases = list(
        CollectionCase.objects.filter(
            pk__in=sample.case_ids, stage__in=WORKING_STAGES, loan__borrower__lost_contact=False
        )
        .select_related("loan__borrower")
        .order_by("pk")
    )
    mobiles = {
        contact.borrower_id: contact
        for contact in Contact.objects.filter(
            borrower__in=[case.loan.borrower_id for case in cases],
            kind=Contact.Kind.MOBILE,
            do_not_contact=False,
            opt_out_call=False,
        ).exclude(verification=Contact.Verification.WRONG)
    }
    allowed, refused = [], []
    for case in cases:
        mobile = mobiles.get(case.loan.borrower_id)
        if mobile is None:
            continue
        case.loan.borrower.time_zone = zone.key  # as the call would see it; written below for those used
        try:
            conduct_check(case=case, contact=mobile, channel="call", at=now, by=sample.collector)
        except ConductViolation as violation:
            if violation.rule in ("after_conversation", "calls_per_case_window"):
                refused.append((case, mobile))
        else:
            allowed.append((case, mobile))
    groups = {"allowed": allowed[:per_operation], "refused": refused[:per_operation]}
    if not shanghai_by_day:
        groups["quiet hours"] = allowed[per_operation : 2 * per_operation]
    moved = [case.loan.borrower_id for key in ("allowed", "refused") for case, _mobile in groups[key]]
    Borrower.objects.filter(pk__in=moved).update(time_zone=zone.key)
    kept = [case.loan.borrower_id for case, _mobile in groups.get("quiet hours", [])]
    Borrower.objects.filter(pk__in=kept).update(time_zone=DESK_ZONE.key)
    for case, _mobile in groups.get("quiet hours", []):
        case.loan.borrower.time_zone = DESK_ZONE.key

    where = "Asia/Shanghai" if shanghai_by_day else f"{zone.key} (moved there: it is night in China)"
    labels = {
        "allowed": (f"attempt allowed ({zone.key})", (302,)),
        "refused": (f"attempt refused, pause ({zone.key})", (422,)),
        "quiet hours": ("attempt refused, quiet hours (Asia/Shanghai)", (422,)),
    }
    operations = []
    for key, pairs in groups.items():
        label, expected = labels[key]
        requests = [_attempt_request(case, mobile, now=now) for case, mobile in pairs]
        operations.append(Operation(label, requests, expected=expected, once=True))
    notes = [
        f"calls logged at {timezone.localtime(now, DESK_ZONE):%Y-%m-%d %H:%M} Asia/Shanghai; "
        f"borrowers of the allowed and pause series live in {where}: {now.astimezone(zone):%H:%M} there",
        f"cases the call is allowed on now: {len(allowed):,}; refused by the pause after a conversation or "
        f"the calls in 7 days: {len(refused):,}",
    ]
    return AttemptPlan(operations, zone, notes)


def _attempt_request(case, mobile, *, now: datetime.datetime) -> Request:
    """An unanswered call on the borrower's own mobile, with a callback tomorrow at 11:00 where the
    borrower lives, typed as the desk's time (datetime-local)."""
    zone = ZoneInfo(case.loan.borrower.time_zone)
    tomorrow = now.astimezone(zone).date() + datetime.timedelta(days=1)
    callback = datetime.datetime.combine(tomorrow, datetime.time(11, 0), tzinfo=zone).astimezone(DESK_ZONE)
    return Request(
        "POST",
        _reverse("collection:attempt_log", case.pk),
        {
            "stage_seen": case.stage,
            "contact": mobile.pk,
            "channel": "call",
            "direction": "outbound",
            "outcome": "no_answer",
            "note": "Rang out, no voicemail.",
            "duration_seconds": "25",
            "callback_at": f"{callback:%Y-%m-%dT%H:%M}",
        },
    )
