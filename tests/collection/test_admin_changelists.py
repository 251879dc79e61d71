"""The admin's big lists (loans, borrowers, contacts, cases, attempts, payments, messages) at a
million loans: each page runs a fixed number of queries, plain, searched and filtered, whatever the
rows (thirty here, each with its own borrower, collector and team: a query per row would show); and
a search finds the rows of the account number, e-mail address or name typed, whole or by its
start, and no others (never by a national ID or phone number: those go by POST to the finder).
How fast they answer is the benchmark's (python -m bench.admin_changelists), not the tests'."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from collection.models import CollectionCase, ContactAttempt, ContactChannel, OutboundMessage, Outcome
from loans.admin import EstimatedCountPaginator, SearchPaginator
from loans.models import Borrower, Contact, DelinquencyBucket, Loan, Payment
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import AttemptFactory, CaseFactory
from tests.loans.factories import BorrowerFactory, ContactFactory, ProductFactory, national_id

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

ROWS = 30
NAMES = ["王小明", "王大伟", "李娜"]  # then 赵一, 赵二, ...
WHEN = timezone.make_aware(datetime.datetime(2026, 11, 20, 10, 0))


@pytest.fixture
def client(admin_client):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return admin_client


def name_of(index: int) -> str:
    return NAMES[index] if index < len(NAMES) else f"赵{index}"


def account_of(index: int) -> str:
    return f"CC2026010000{index:06d}"


def mobile_of(index: int) -> str:
    return f"+86138{index:08d}"


def build_row(index: int, product, bucket) -> CollectionCase:
    """A borrower with a mobile, an employer's number and an e-mail, one loan, its case worked by a
    collector of a team of their own, a call attempt, a payment and a reminder message."""
    borrower = BorrowerFactory(
        name=name_of(index), national_id=national_id(100 + index), province=["北京市", "上海市"][index % 2]
    )
    mobile = ContactFactory(borrower=borrower, kind=Contact.Kind.MOBILE, value=mobile_of(index))
    ContactFactory(borrower=borrower, kind=Contact.Kind.EMPLOYER, value=f"+86106500{index:04d}", name="某某公司")
    ContactFactory(borrower=borrower, kind=Contact.Kind.EMAIL, value=f"borrower{index}@example.com")
    collector = UserFactory(roles=["collector"])
    case = CaseFactory(
        loan__account_number=account_of(index),
        loan__borrower=borrower,
        loan__product=product,
        loan__installments=False,
        team=TeamFactory(),
        assigned_to=collector,
    )
    Loan.objects.filter(pk=case.loan_id).update(bucket=bucket, status=Loan.Status.DELINQUENT)
    AttemptFactory(
        case=case,
        contact=mobile,
        channel=ContactChannel.CALL,
        attempted_at=WHEN - datetime.timedelta(minutes=index),
        outcome=Outcome.NO_ANSWER,
        collector=collector,
    )
    Payment.objects.create(
        loan=case.loan,
        amount=Decimal("100.00"),
        received_at=WHEN,
        channel=Payment.Channel.APP,
        source="bank",
        reference=f"REF-{index:04d}",
        recorded_by=UserFactory(),
    )
    OutboundMessage.objects.create(
        case=case,
        contact=mobile,
        channel=ContactChannel.SMS,
        recipient=mobile.value,
        body="提醒",
        scheduled_at=WHEN,
        status=OutboundMessage.Status.BLOCKED if index % 3 == 0 else OutboundMessage.Status.SENT,
        blocked_rule="quiet_hours" if index % 3 == 0 else "",
        provider_reference=f"GW-{index:04d}",
        idempotency_key=f"{case.pk}:1:2026-11-20",
    )
    return case


@pytest.fixture
def desk(db):
    product = ProductFactory()
    bucket = DelinquencyBucket.objects.order_by("-min_dpd").first()
    return [build_row(index, product, bucket) for index in range(ROWS)]


CHANGELISTS = {
    "loans": ("admin:loans_loan_changelist", {"status__exact": "delinquent"}),
    "borrowers": ("admin:loans_borrower_changelist", {"province": "北京市"}),
    "contacts": ("admin:loans_contact_changelist", {"kind__exact": "mobile"}),
    "cases": ("admin:collection_collectioncase_changelist", {"stage__exact": "reminder"}),
    "attempts": ("admin:collection_contactattempt_changelist", {"outcome__exact": "no_answer"}),
    "payments": ("admin:loans_payment_changelist", {"channel__exact": "app"}),
    "messages": ("admin:collection_outboundmessage_changelist", {"blocked_rule__exact": "quiet_hours"}),
}

# The queries of each page: the session, the user, whether the conduct policy has its row (the
# sidebar's add link), then the list's own: its count, its rows, and one per filter that lists the
# rows of another table (products and buckets, teams) or a column's values (province, source, rule);
# and last the session saved again (a savepoint, the update, its release), which moves its idle
# expiry on at every request.
SESSION_SAVE = 3
QUERIES = {
    name: count + SESSION_SAVE
    for name, count in {
        "loans": 7,
        "borrowers": 6,
        "contacts": 5,
        "cases": 6,
        "attempts": 5,
        "payments": 6,
        "messages": 6,
    }.items()
}


def rows_of(response) -> list:
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize("changelist", list(CHANGELISTS))
def test_each_list_runs_a_fixed_number_of_queries_whatever_its_rows(client, desk, changelist):
    url_name, filter_params = CHANGELISTS[changelist]
    search = {"q": "CC20260100000"}  # every row's account number starts so
    ways = {"plain": {}, "search": search, "filter": filter_params, "search and filter": {**search, **filter_params}}

    for way, params in ways.items():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(url_name), params)

        assert response.status_code == 200, way
        assert len(rows_of(response)) >= ROWS // 3, way
        assert len(queries) == QUERIES[changelist], (way, [query["sql"] for query in queries.captured_queries])


def accounts_found(client, url_name: str, term: str) -> set[str]:
    response = client.get(reverse(url_name), {"q": term})
    assert response.status_code == 200
    found = set()
    for row in rows_of(response):
        found |= _accounts_of(row)
    return found


def _accounts_of(row) -> set[str]:
    """The account numbers a row of any of the lists stands for."""
    if isinstance(row, Loan):
        return {row.account_number}
    if isinstance(row, Borrower):
        return set(row.loans.values_list("account_number", flat=True))
    if isinstance(row, Contact):
        return set(row.borrower.loans.values_list("account_number", flat=True))
    if isinstance(row, CollectionCase):
        return {row.loan.account_number}
    if isinstance(row, Payment):
        return {row.loan.account_number}
    if isinstance(row, ContactAttempt | OutboundMessage):
        return {row.case.loan.account_number}
    raise AssertionError(row)


SEARCHES = {
    # what is typed: the rows (by index) it finds
    account_of(7): {7},
    account_of(7).lower(): {7},
    account_of(10)[:-1]: set(range(10, 20)),  # the start of an account number
    # National ID and phone numbers are never searched by GET (their URL would keep them, F10): the
    # borrowers' and contacts' finder takes them by POST (tests/loans/test_audit_privacy.py).
    national_id(107): set(),
    national_id(107)[:-2]: set(),
    "13800000007": set(),
    "138 0000 0007": set(),
    "+86 138-0000-0007": set(),
    "1380000001": set(),
    "王小明": {0},
    "王": {0, 1},  # a family name
    "小明": set(),  # not the middle of a name
    "00000007": set(),  # not the end of a number
    "nobody": set(),
}


@pytest.mark.parametrize("changelist", list(CHANGELISTS))
def test_a_search_finds_the_rows_of_what_was_typed_and_no_others(client, desk, changelist):
    url_name, _ = CHANGELISTS[changelist]

    found = {term: accounts_found(client, url_name, term) for term in SEARCHES}

    assert found == {term: {account_of(index) for index in indexes} for term, indexes in SEARCHES.items()}


@pytest.mark.parametrize(
    ("changelist", "term", "found"),
    [
        ("payments", "REF-0007", {"REF-0007"}),
        ("payments", "REF-000", {f"REF-000{index}" for index in range(10)}),
        ("messages", "GW-0012", {"GW-0012"}),
    ],
)
def test_payments_and_messages_are_found_by_their_own_references(client, desk, changelist, term, found):
    response = client.get(reverse(CHANGELISTS[changelist][0]), {"q": term})

    references = {getattr(row, "reference", None) or row.provider_reference for row in rows_of(response)}
    assert references == found


def test_contacts_are_found_by_their_e_mail_address_and_not_by_their_number(client, desk):
    url = reverse(CHANGELISTS["contacts"][0])

    by_number = rows_of(client.get(url, {"q": "13800000007"}))
    by_email = rows_of(client.get(url, {"q": "Borrower7@example.com"}))
    by_account = rows_of(client.get(url, {"q": account_of(7)}))

    assert by_number == []
    assert [contact.value for contact in by_email] == ["borrower7@example.com"]
    assert len(by_account) == 3  # every contact of the borrower of the loan


def test_attempts_and_messages_are_not_found_by_the_number_they_went_to(client, desk):
    for changelist in ("attempts", "messages"):
        assert rows_of(client.get(reverse(CHANGELISTS[changelist][0]), {"q": "13800000007"})) == []


def test_the_search_box_says_what_it_searches(client, desk):
    content = client.get(reverse(CHANGELISTS["loans"][0])).content.decode()

    assert "An account number, whole or its start; an e-mail address; or a borrower&#x27;s name" in content
    assert "National ID and phone numbers are not searched here" in content


def test_a_filtered_list_is_counted_exactly(desk):
    paginator = EstimatedCountPaginator(Contact.objects.filter(kind=Contact.Kind.MOBILE).order_by("pk"), 100)

    assert paginator.count == ROWS


@pytest.mark.postgres
def test_an_unfiltered_list_of_millions_is_paged_by_the_planners_estimate(desk, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE loans_contact")  # it counts the test's own rows
    ContactFactory()  # one the statistics do not know of
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_ABOVE", 10)

    with CaptureQueriesContext(connection) as queries:
        count = EstimatedCountPaginator(Contact.objects.order_by("pk"), 100).count

    assert count == 3 * ROWS  # the estimate, not the 91 rows
    assert len(queries) == 1
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_ABOVE", 1_000)
    assert EstimatedCountPaginator(Contact.objects.order_by("pk"), 100).count == 3 * ROWS + 1


def test_a_search_that_finds_many_rows_stops_counting_and_says_so(client, desk, monkeypatch):
    monkeypatch.setattr(SearchPaginator, "COUNT_UP_TO", 12)

    many = client.get(reverse(CHANGELISTS["payments"][0]), {"q": "CC20260100000"})
    few = client.get(reverse(CHANGELISTS["payments"][0]), {"q": "CC202601000000001"})

    assert str(many.context["cl"].result_count) == "12+"
    assert "12+ results" in many.content.decode()
    assert few.context["cl"].result_count == 10
