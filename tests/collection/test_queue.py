import datetime

from django.db.models import F
from django.utils import timezone

from collection.machine import Stage
from collection.models import CollectionCase
from collection.selectors import queue_for_collector
from collection.services import promise_take, promises_evaluate
from loans.models import Loan
from tests.accounts.factories import UserFactory
from tests.collection.factories import CaseFactory, case_in
from tests.loans.factories import make_days_past_due


def with_dpd(case, days):
    make_days_past_due(Loan.objects.filter(pk=case.loan_id), days)
    return case


def test_a_broken_promise_lifts_the_case_to_the_top_of_the_queue(db, collector):
    deep = with_dpd(CaseFactory(assigned_to=collector), 80)
    shallow = with_dpd(CaseFactory(assigned_to=collector), 5)
    held = with_dpd(case_in(Stage.ON_HOLD, assigned_to=collector), 200)
    CaseFactory(assigned_to=UserFactory(roles=["collector"]))  # someone else's
    assert list(queue_for_collector(user=collector)) == [deep, shallow, held]

    promise = promise_take(
        case=shallow, by=collector, amount=shallow.loan.overdue_amount or 10, due_date=timezone.localdate()
    )
    type(promise).objects.filter(pk=promise.pk).update(
        promised_at=F("promised_at") - datetime.timedelta(days=10),
        due_date=timezone.localdate() - datetime.timedelta(days=5),
    )
    promises_evaluate(as_of=timezone.localdate())

    assert CollectionCase.objects.get(pk=shallow.pk).attention_since is not None
    assert list(queue_for_collector(user=collector)) == [shallow, deep, held]


def test_the_queue_reads_in_a_fixed_number_of_queries(db, collector, django_assert_max_num_queries):
    for days in (3, 30, 60):
        with_dpd(CaseFactory(assigned_to=collector), days)

    with django_assert_max_num_queries(1):
        rows = [(case.loan.account_number, case.loan.borrower.name) for case in queue_for_collector(user=collector)]

    assert len(rows) == 3
