"""Privacy in the admin (review F10): national IDs and phone numbers are masked on the borrowers'
and contacts' pages, shown in full only to an admin or a supervisor who asks (each reveal in the
audit trail), never searched by GET (their URL would keep them), found by a POSTed finder."""

import pytest
from auditlog.models import LogEntry
from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.urls import reverse

from collection.machine import Stage
from collection.models import CollectionCase
from loans.models import Contact
from tests.accounts.factories import UserFactory
from tests.collection.factories import CaseFactory, within_reach_of
from tests.loans.factories import BorrowerFactory, ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

NATIONAL_ID = "12010319750522862X"
MOBILE = "+8615828303705"


@pytest.fixture
def borrower():
    borrower = BorrowerFactory(national_id=NATIONAL_ID)
    ContactFactory(borrower=borrower, kind=Contact.Kind.EMERGENCY, value=MOBILE)
    return borrower


def staff(*roles, reaching=None):
    """A staff user holding `roles`, with a case of `reaching` (a borrower) within their reach:
    nobody but an admin sees a borrower outside their cases (collection.access)."""
    user = UserFactory(roles=list(roles), is_staff=True)
    if reaching is not None:
        case = within_reach_of(user, CaseFactory(loan__borrower=reaching))
        if "legal_officer" in roles:
            CollectionCase.objects.filter(pk=case.pk).update(stage=Stage.LITIGATION)
    return user


def test_a_national_id_in_the_search_box_finds_nothing(admin_client, borrower):
    # The review's request: /admin/loans/borrower/?q=12010319750522862X found the borrower.
    response = admin_client.get(reverse("admin:loans_borrower_changelist"), {"q": NATIONAL_ID})

    assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize("typed", [MOBILE, "158 2830 3705", "15828303705"])
def test_a_phone_number_in_the_search_box_finds_no_contact(admin_client, borrower, typed):
    response = admin_client.get(reverse("admin:loans_contact_changelist"), {"q": typed})

    assert list(response.context["cl"].result_list) == []


def test_the_finder_takes_a_national_id_by_post_and_goes_to_its_borrower_by_key(admin_client, borrower):
    response = admin_client.post(reverse("admin:loans_borrower_find"), {"number": NATIONAL_ID.lower()})

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:loans_borrower_change", args=[borrower.pk])


def test_the_finder_takes_a_phone_number_as_written_and_lists_every_borrower_it_belongs_to(admin_client, borrower):
    other = BorrowerFactory()
    ContactFactory(borrower=other, value=MOBILE)

    response = admin_client.post(reverse("admin:loans_borrower_find"), {"number": "158-2830-3705"})

    assert response.status_code == 302
    assert "15828303705" not in response["Location"]
    listed = admin_client.get(response["Location"])
    assert {row.pk for row in listed.context["cl"].result_list} == {borrower.pk, other.pk}


def test_the_contacts_finder_goes_to_the_contact_of_a_number(admin_client, borrower):
    contact = borrower.contacts.get()

    response = admin_client.post(reverse("admin:loans_contact_find"), {"number": MOBILE})

    assert response["Location"] == reverse("admin:loans_contact_change", args=[contact.pk])


def test_the_finder_finds_nothing_by_the_start_of_a_number(admin_client, borrower, settings):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = admin_client.post(reverse("admin:loans_borrower_find"), {"number": NATIONAL_ID[:12]})

    assert response.status_code == 200
    assert "Nothing has that number." in response.content.decode()


def test_a_contact_is_named_with_its_number_masked(borrower):
    contact = borrower.contacts.get()

    assert str(contact) == "Emergency contact (relative) +86158****3705"
    assert "15828303705" not in str(contact)


def test_the_admins_history_of_a_contact_change_holds_no_full_number(admin_client, borrower):
    contact = borrower.contacts.get()
    form = {
        "borrower": borrower.pk,
        "kind": contact.kind,
        "name": "李四",
        "relation": "兄弟",
        "verification": "unverified",
        "source": "",
        "changes-TOTAL_FORMS": 0,
        "changes-INITIAL_FORMS": 0,
    }

    response = admin_client.post(reverse("admin:loans_contact_change", args=[contact.pk]), form)

    assert response.status_code == 302, response.content.decode()[:3000]
    (entry,) = AdminLogEntry.objects.filter(object_id=str(contact.pk))
    assert "15828303705" not in entry.object_repr and "15828303705" not in entry.change_message
    assert Contact.objects.get(pk=contact.pk).value == MOBILE  # the number was not in the form to change


@pytest.mark.parametrize("role", ["supervisor", "collector", "legal_officer"])
def test_the_borrower_page_shows_the_national_id_and_numbers_masked(client, borrower, role):
    client.force_login(staff(role, reaching=borrower))

    page = client.get(reverse("admin:loans_borrower_change", args=[borrower.pk]))

    content = page.content.decode()
    assert page.status_code == 200
    assert NATIONAL_ID not in content and "15828303705" not in content
    assert "1201**********862X" in content and "+86158****3705" in content


def test_the_contact_pages_show_the_number_masked(admin_client, borrower):
    contact = borrower.contacts.get()

    listed = admin_client.get(reverse("admin:loans_contact_changelist")).content.decode()
    changed = admin_client.get(reverse("admin:loans_contact_change", args=[contact.pk])).content.decode()

    for content in (listed, changed):
        assert "15828303705" not in content
        assert "+86158****3705" in content


@pytest.mark.parametrize(("role", "offered"), [("supervisor", True), ("admin", True), ("collector", False)])
def test_the_reveal_button_is_offered_to_the_roles_that_need_the_full_value(client, borrower, role, offered):
    client.force_login(staff(role, reaching=borrower))

    content = client.get(reverse("admin:loans_borrower_change", args=[borrower.pk])).content.decode()

    assert (reverse("admin:loans_borrower_reveal", args=[borrower.pk]) in content) is offered


def test_a_supervisor_who_asks_sees_the_full_national_id_and_the_reveal_is_recorded(client, borrower):
    supervisor = staff("supervisor", reaching=borrower)
    client.force_login(supervisor)

    response = client.post(reverse("admin:loans_borrower_reveal", args=[borrower.pk]))

    assert response.status_code == 200
    assert NATIONAL_ID in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    (entry,) = LogEntry.objects.get_for_object(borrower).filter(action=LogEntry.Action.ACCESS)
    assert entry.actor == supervisor
    assert entry.additional_data == {"revealed": "national_id"}


def test_a_collector_is_refused_the_full_value_and_nothing_is_recorded(client, borrower):
    client.force_login(staff("collector", reaching=borrower))

    response = client.post(reverse("admin:loans_borrower_reveal", args=[borrower.pk]))

    assert response.status_code == 403
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_a_reveal_is_never_a_get(admin_client, borrower):
    response = admin_client.get(reverse("admin:loans_borrower_reveal", args=[borrower.pk]))

    assert response.status_code == 405
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_an_admin_sees_a_contacts_full_number_on_request_and_it_is_recorded(client, borrower):
    admin = staff("admin")
    client.force_login(admin)
    contact = borrower.contacts.get()

    response = client.post(reverse("admin:loans_contact_reveal", args=[contact.pk]))

    assert MOBILE in response.content.decode()
    assert LogEntry.objects.get_for_object(contact).get(action=LogEntry.Action.ACCESS).actor == admin


def test_the_messages_list_and_page_show_the_number_a_message_went_to_masked(admin_client, borrower):
    from collection.models import ContactChannel, OutboundMessage
    from tests.collection.factories import CaseFactory

    case = CaseFactory(loan__borrower=borrower)
    message = OutboundMessage.objects.create(
        case=case,
        contact=borrower.contacts.get(),
        channel=ContactChannel.SMS,
        recipient=MOBILE,
        body="提醒",
        scheduled_at=case.opened_at,
        idempotency_key=f"{case.pk}:1:2026-12-03",
    )

    listed = admin_client.get(reverse("admin:collection_outboundmessage_changelist")).content.decode()
    shown = admin_client.get(reverse("admin:collection_outboundmessage_change", args=[message.pk])).content.decode()

    for content in (listed, shown):
        assert "15828303705" not in content
        assert "+86158****3705" in content
