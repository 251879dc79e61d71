"""The case's history shows the audit trail's changes to the case's own records: the case, its
loan, its borrower, their contacts and the loan's payments, with who, when, old and new values,
numbers masked, in a bounded number of queries."""

import pytest

from accounts.audit import audit_actor, audit_reveal
from collection.selectors import case_timeline
from loans.models import Loan
from tests.accounts.factories import UserFactory
from tests.collection.factories import CaseFactory
from tests.loans.factories import BorrowerFactory, ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]


def changes_of(case) -> list:
    return [entry for entry in case_timeline(case=case) if entry.kind in {"change", "reveal"}]


def test_a_contacts_change_shows_who_made_it_and_the_masked_values_before_and_after():
    case = CaseFactory()
    contact = ContactFactory(borrower=case.loan.borrower, value="+8613856785678")
    supervisor = UserFactory(roles=["supervisor"])

    with audit_actor(supervisor):
        contact.do_not_contact = True
        contact.value = "+8613912345678"
        contact.save()

    (entry,) = changes_of(case)
    assert entry.actor == supervisor
    assert entry.summary.startswith("Own mobile +86139****5678 changed: ")
    assert "do not contact: no → yes" in entry.summary
    assert "number or address: +86138****5678 → +86139****5678" in entry.summary
    assert "13856785678" not in entry.summary and "13912345678" not in entry.summary


def test_the_borrower_and_loan_changes_are_shown_and_another_borrowers_are_not():
    case = CaseFactory()
    other = BorrowerFactory()
    admin = UserFactory(roles=["admin"])

    with audit_actor(admin):
        borrower = case.loan.borrower
        borrower.lost_contact = True
        borrower.save()
        loan = Loan.objects.get(pk=case.loan_id)
        loan.status = Loan.Status.CHARGED_OFF
        loan.save()
        other.lost_contact = True
        other.save()

    summaries = [entry.summary for entry in changes_of(case)]
    assert len(summaries) == 2
    assert any("lost contact: no → yes" in summary for summary in summaries)
    assert any("status: Current → Charged off" in summary for summary in summaries)


def test_a_reveal_of_the_borrowers_national_id_is_on_the_history():
    case = CaseFactory()
    supervisor = UserFactory(roles=["supervisor"])

    audit_reveal(case.loan.borrower, field="national_id", by=supervisor)

    (entry,) = changes_of(case)
    assert entry.kind == "reveal"
    assert entry.actor == supervisor
    assert entry.summary.endswith("full national ID number shown")
    assert case.loan.borrower.national_id not in entry.summary


def test_the_audit_entries_cost_the_same_queries_whatever_their_number(django_assert_max_num_queries):
    case = CaseFactory()
    contact = ContactFactory(borrower=case.loan.borrower)
    with audit_actor(UserFactory()):
        contact.name = "一"
        contact.save()
    with django_assert_max_num_queries(13):
        short = case_timeline(case=case)

    for index in range(10):
        with audit_actor(UserFactory()):
            contact.name = f"名{index}"
            contact.verification = ["verified", "wrong"][index % 2]
            contact.save()
            case.loan.borrower.address = f"{index}号"
            case.loan.borrower.save()

    with django_assert_max_num_queries(13):
        long = case_timeline(case=case)
        [str(entry.actor) for entry in long]
    assert len(long) == len(short) + 20
