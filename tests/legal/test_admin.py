"""The legal cases in the admin: shown with their records, never edited there, and only the cases
within the user's reach (legal.access), as on the legal pages."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from legal.machine import LegalState
from legal.models import Filing, Hearing, LegalCase
from tests.accounts.factories import TeamFactory, UserFactory
from tests.legal.factories import CourtFactory, legal_case_in


def _filing(legal_case: LegalCase, docket_number: str, by) -> Filing:
    return Filing.objects.create(
        legal_case=legal_case,
        court=CourtFactory(),
        docket_number=docket_number,
        filed_on=datetime.date(2026, 9, 1),
        claimed_principal=Decimal("1000.00"),
        claimed_interest=Decimal("20.00"),
        claimed_fees=Decimal("0.00"),
        claimed_penalty=Decimal("5.00"),
        claimed_costs=Decimal("0.00"),
        claimed_amount=Decimal("1025.00"),
        recorded_by=by,
    )


@pytest.fixture
def desk(db):
    admin = UserFactory(username="admin1", roles=["admin"], is_staff=True)
    supervisor1 = UserFactory(username="supervisor1", roles=["supervisor"], is_staff=True)
    supervisor2 = UserFactory(username="supervisor2", roles=["supervisor"], is_staff=True)
    collector1 = UserFactory(username="collector1", roles=["collector"], is_staff=True)
    team1 = TeamFactory(name="一组", supervisor=supervisor1)
    team2 = TeamFactory(name="二组", supervisor=supervisor2)
    mine = legal_case_in(LegalState.FILED, assigned_to=collector1, team=team1)
    theirs = legal_case_in(LegalState.FILED, team=team2)
    _filing(mine, "(2026)沪0115民初1234号", admin)
    _filing(theirs, "(2026)沪0115民初9876号", admin)
    Hearing.objects.create(
        legal_case=mine,
        held_at=datetime.datetime(2026, 12, 20, 9, 30, tzinfo=datetime.UTC),
        place="第三法庭",
        recorded_by=admin,
    )
    return {"admin": admin, "supervisor1": supervisor1, "collector1": collector1, "mine": mine, "theirs": theirs}


def _changelist(client, user, **query):
    client.force_login(user)
    return client.get(reverse("admin:legal_legalcase_changelist"), query)


def test_an_admin_finds_a_legal_case_by_its_docket_number(client, desk):
    response = _changelist(client, desk["admin"], q="(2026)沪0115民初9876号")

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [desk["theirs"]]


def test_a_supervisor_sees_only_the_legal_cases_of_their_teams(client, desk):
    response = _changelist(client, desk["supervisor1"])
    assert list(response.context["cl"].result_list) == [desk["mine"]]

    theirs = client.get(reverse("admin:legal_legalcase_change", args=[desk["theirs"].pk]))
    assert theirs.status_code == 302  # the admin's "does not exist": out of reach
    assert "(2026)沪0115民初9876号" not in theirs.content.decode()


def test_a_collector_with_staff_status_sees_no_legal_case(client, desk):
    response = _changelist(client, desk["collector1"])

    assert response.status_code == 403


def test_the_case_page_shows_the_records_and_offers_no_edit(client, desk):
    client.force_login(desk["admin"])
    url = reverse("admin:legal_legalcase_change", args=[desk["mine"].pk])

    page = client.get(url)
    text = page.content.decode()

    assert page.status_code == 200
    assert "(2026)沪0115民初1234号" in text and "第三法庭" in text
    assert reverse("legal:case", args=[desk["mine"].pk]) in text
    assert 'name="_save"' not in text
    assert client.post(url, {"state": LegalState.CLOSED}).status_code == 403
    assert client.get(reverse("admin:legal_legalcase_add")).status_code == 403
    assert client.get(reverse("admin:legal_legalcase_delete", args=[desk["mine"].pk])).status_code == 403
    desk["mine"].refresh_from_db()
    assert desk["mine"].state == LegalState.FILED


def test_the_list_reads_a_fixed_number_of_queries(client, desk, django_assert_max_num_queries):
    for _ in range(5):
        legal_case_in(LegalState.PREPARING, team=desk["mine"].case.team)
    client.force_login(desk["admin"])
    # The session and the user's permissions and roles (5), the firm and officer filters (2), the
    # count, the page of cases with their loans, officers and firms (2), the date hierarchy (2),
    # the session's save (3): none per row.
    with django_assert_max_num_queries(14):
        response = client.get(reverse("admin:legal_legalcase_changelist"))
    assert len(response.context["cl"].result_list) == 7
