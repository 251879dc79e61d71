"""What the benchmark requests, as the legal officer and as a supervisor, with the court, firm and
cases taken from the database."""

import random
from dataclasses import dataclass

from django.db.models import Count
from django.urls import reverse

from bench.collection_cycle.server import BenchError
from bench.workspace.requests import Operation, Request

from .build import OFFICER, SUPERVISOR

# The state the queue is filtered by: the one with the most deadlines to watch.
FILTER_STATE = "in_hearing"


@dataclass(frozen=True)
class Sample:
    officer: object
    supervisor: object
    case_ids: list[int]
    court_id: int | None
    firm_id: int | None


def sample_from_database() -> Sample:
    from django.contrib.auth import get_user_model

    from legal.models import Filing, LegalCase

    User = get_user_model()
    officer = User.objects.get(username=OFFICER)
    case_ids = list(LegalCase.objects.filter(officer=officer).order_by("pk").values_list("pk", flat=True))
    if not case_ids:
        raise BenchError(f"{OFFICER} holds no legal case: build the portfolio first")
    court = Filing.objects.values("court").annotate(n=Count("pk")).order_by("-n", "court").first()
    firm = LegalCase.objects.exclude(firm=None).values("firm").annotate(n=Count("pk")).order_by("-n", "firm").first()
    return Sample(
        officer=officer,
        supervisor=User.objects.get(username=SUPERVISOR),
        case_ids=case_ids,
        court_id=court["court"] if court else None,
        firm_id=firm["firm"] if firm else None,
    )


def officer_operations(sample: Sample, *, seed: int = 1) -> list[Operation]:
    """The queue plain and filtered by state, court, firm and the limitation flag; the case page
    over the officer's cases in a shuffled order."""
    queue = reverse("legal:queue")
    filters = [(f"state={FILTER_STATE}", {"state": FILTER_STATE})]
    if sample.court_id is not None:
        filters.append(("court", {"court": sample.court_id}))
    if sample.firm_id is not None:
        filters.append(("firm", {"firm": sample.firm_id}))
    filters.append(("limitation_flagged=true", {"limitation_flagged": "true"}))
    operations = [Operation("legal queue", [Request("GET", queue)])]
    operations += [
        Operation(f"legal queue filter {label}", [Request("GET", queue, params)]) for label, params in filters
    ]
    shuffled = list(sample.case_ids)
    random.Random(f"legal-case-pages-{seed}").shuffle(shuffled)
    operations.append(
        Operation("legal case page", [Request("GET", reverse("legal:case", args=[pk])) for pk in shuffled])
    )
    return operations


def supervisor_operations() -> list[Operation]:
    return [Operation("legal portfolio (supervisor)", [Request("GET", reverse("legal:portfolio"))])]
