"""The nightly cycle flags the debts whose limitation period ends within 90 days (or has ended)
while no court has the claim, lowers the flag when that is no longer so, and agrees with the same
rule done one case at a time; a demand that restarts the period lowers it at once; the legal
queue shows the flag and filters on it."""

import datetime
import random
from collections import Counter

import pytest
from django.conf import settings as django_settings

from collection import cycle
from legal.limitation import LIMITATION_STEP, limitation_flags_set, limitation_flags_set_case_by_case
from legal.machine import LegalState
from legal.models import LegalCase, LimitationEvent, PaymentOrder
from legal.services import limitation_event_record
from tests.legal.factories import CourtFactory, legal_case_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

NIGHT = datetime.date(2026, 12, 5)
# A limitation period running from here ends on 2027-03-05: 90 days after NIGHT.
NINETY_DAYS_OFF = datetime.date(2024, 3, 5)


def case_with(state: str, limitation_from: datetime.date) -> LegalCase:
    legal_case = legal_case_in(state)
    LegalCase.objects.filter(pk=legal_case.pk).update(limitation_from=limitation_from)
    legal_case.refresh_from_db()
    return legal_case


def flags() -> dict[int, datetime.date | None]:
    return dict(LegalCase.objects.values_list("pk", "limitation_flagged_on"))


def test_the_cycle_runs_the_legal_limitation_step_after_the_desks_own():
    assert cycle.cycle_plan()[-1] == "limitation"
    assert cycle.cycle_steps()[-1] is LIMITATION_STEP
    # Added again (ready() run twice), nothing changes; another step under its name is refused.
    cycle.cycle_step_add(LIMITATION_STEP)
    assert cycle.cycle_plan().count("limitation") == 1
    with pytest.raises(ValueError, match="already has a step named 'limitation'"):
        cycle.cycle_step_add(cycle.CycleStep("limitation", "x", {}, run=limitation_flags_set, reference=print))


def test_a_debt_90_days_from_the_end_of_its_limitation_is_flagged_that_night(legal_officer):
    near = case_with(LegalState.LETTER_SENT, NINETY_DAYS_OFF)
    a_day_more = case_with(LegalState.PREPARING, NINETY_DAYS_OFF + datetime.timedelta(days=1))
    time_barred = case_with(LegalState.MEDIATION, datetime.date(2023, 1, 1))
    in_court = case_with(LegalState.FILED, datetime.date(2023, 1, 1))
    closed = case_with(LegalState.CLOSED, datetime.date(2023, 1, 1))

    counts = cycle.cycle_step_run(step="limitation", as_of=NIGHT, at=datetime.datetime.now(datetime.UTC))

    assert counts == {"limitation_flagged": 2}
    assert flags() == {near.pk: NIGHT, a_day_more.pk: None, time_barred.pk: NIGHT, in_court.pk: None, closed.pk: None}
    # The next night flags the one a day further off, and keeps the first night's date on the others.
    counts = limitation_flags_set(as_of=NIGHT + datetime.timedelta(days=1))
    assert counts == {"limitation_flagged": 1}
    assert flags()[near.pk] == NIGHT and flags()[a_day_more.pk] == NIGHT + datetime.timedelta(days=1)
    # Run again the same night: nothing changes.
    assert limitation_flags_set(as_of=NIGHT + datetime.timedelta(days=1)) == {}


def test_a_payment_order_objected_to_puts_the_limitation_period_back_in_play(legal_officer):
    legal_case = case_with(LegalState.PAYMENT_ORDER, datetime.date(2023, 6, 1))
    order = PaymentOrder.objects.create(
        legal_case=legal_case, court=CourtFactory(), applied_on=NIGHT, recorded_by=legal_officer
    )
    limitation_flags_set(as_of=NIGHT)
    assert flags()[legal_case.pk] is None

    PaymentOrder.objects.filter(pk=order.pk).update(objected_on=NIGHT)
    limitation_flags_set(as_of=NIGHT)
    assert flags()[legal_case.pk] == NIGHT

    # The desk sues: the court has the claim, and the next night lowers the flag.
    LegalCase.objects.filter(pk=legal_case.pk).update(state=LegalState.FILED)
    assert limitation_flags_set(as_of=NIGHT) == {"limitation_flags_lowered": 1}
    assert flags()[legal_case.pk] is None


def test_a_demand_restarting_the_period_lowers_the_flag_at_once(legal_officer):
    legal_case = case_with(LegalState.LETTER_SENT, NINETY_DAYS_OFF)
    limitation_flags_set(as_of=NIGHT)
    legal_case.refresh_from_db()
    assert legal_case.limitation_flagged_on == NIGHT

    limitation_event_record(
        legal_case=legal_case, by=legal_officer, kind=LimitationEvent.Kind.ACKNOWLEDGEMENT, occurred_on=NIGHT
    )

    legal_case.refresh_from_db()
    assert (legal_case.limitation_from, legal_case.limitation_flagged_on) == (NIGHT, None)
    assert limitation_flags_set(as_of=NIGHT) == {}


@pytest.mark.parametrize("seed", [1, 2])
def test_the_set_based_flags_agree_with_the_rule_case_by_case(seed, legal_officer):
    rng = random.Random(seed)
    for _ in range(30):
        legal_case = case_with(rng.choice(LegalState.values), NIGHT - datetime.timedelta(days=rng.randint(900, 1300)))
        if rng.random() < 0.3:
            PaymentOrder.objects.create(
                legal_case=legal_case,
                court=CourtFactory(),
                applied_on=NIGHT,
                objected_on=rng.choice([None, NIGHT]),
                recorded_by=legal_officer,
            )
        if rng.random() < 0.3:
            LegalCase.objects.filter(pk=legal_case.pk).update(limitation_flagged_on=NIGHT - datetime.timedelta(days=3))
    before = flags()

    set_based = limitation_flags_set(as_of=NIGHT)
    after_set_based = flags()
    for pk, flagged_on in before.items():
        LegalCase.objects.filter(pk=pk).update(limitation_flagged_on=flagged_on)
    counted = Counter()
    loan_ids = list(LegalCase.objects.values_list("case__loan_id", flat=True))
    limitation_flags_set_case_by_case(as_of=NIGHT, loan_ids=loan_ids, counts=counted)

    assert flags() == after_set_based
    assert counted == set_based
    assert set_based["limitation_flagged"] > 0 and set_based["limitation_flags_lowered"] > 0


def test_the_queue_shows_the_flag_and_filters_on_it(client, legal_officer):
    flagged = case_with(LegalState.LETTER_SENT, NINETY_DAYS_OFF)
    calm = case_with(LegalState.LETTER_SENT, datetime.date(2026, 6, 1))
    limitation_flags_set(as_of=NIGHT)
    client.force_login(legal_officer)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"

    page = client.get("/legal/").content.decode()
    row = page.split(f'id="legal-case-{flagged.pk}"')[1].split("</tr>")[0]
    assert "Limitation near its end" in row
    assert "Limitation near its end" not in page.split(f'id="legal-case-{calm.pk}"')[1].split("</tr>")[0]

    only_flagged = client.get("/legal/", {"limitation_flagged": "true"}).content.decode()
    assert f'id="legal-case-{flagged.pk}"' in only_flagged and f'id="legal-case-{calm.pk}"' not in only_flagged
    not_flagged = client.get("/legal/", {"limitation_flagged": "false"}).content.decode()
    assert f'id="legal-case-{flagged.pk}"' not in not_flagged and f'id="legal-case-{calm.pk}"' in not_flagged

    case_page = client.get(f"/legal/{flagged.pk}/").content.decode()
    assert 'id="limitation-flag"' in case_page
