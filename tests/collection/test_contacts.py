"""Who the desk reaches: a contact's kind, owner, number, verification, do-not-contact and opt-outs
change only through contact_update, with a reason, on the version the user saw, a supervisor
deciding what loosens them (review F2a, F5); attempts that mark a contact bump its version; and
attempt_log reads the contact's number from its row (F15)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from collection.exceptions import CollectionError
from collection.models import ContactAttempt, ContactChannel, Outcome
from collection.services import StaleContact, attempt_log, contact_add, contact_update
from loans.models import Contact, ContactChange
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory
from tests.loans.factories import BorrowerFactory, ContactFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime.datetime(2026, 3, 2, 12, tzinfo=SHANGHAI)


@pytest.fixture
def team():
    return TeamFactory()


@pytest.fixture
def collector(team):
    user = UserFactory(roles=["collector"], is_staff=True)
    team.members.add(user)
    return user


@pytest.fixture
def supervisor(team):
    return team.supervisor


@pytest.fixture
def case(collector, team):
    return CaseFactory(assigned_to=collector, team=team, loan__installments=False)


@pytest.fixture
def relative(case):
    """The borrower's emergency contact: the father (the review's contact 319)."""
    return ContactFactory(
        borrower=case.loan.borrower, kind=Contact.Kind.EMERGENCY, name="陈旭", relation="父亲", value="+8617852041242"
    )


@pytest.fixture
def mobile(case):
    return ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.MOBILE, value="+8618262556261")


def update(contact, by, **changes):
    contact.refresh_from_db()
    return contact_update(contact=contact, by=by, reason="核实后更正", expected_version=contact.version, **changes)


# --- the service ---------------------------------------------------------------------------------


def test_a_change_is_recorded_with_actor_reason_old_and_new_values(mobile, collector):
    changed = contact_update(
        contact=mobile, by=collector, reason="借款人来电告知新号码", expected_version=1, value="139 1234 5678"
    )

    assert (changed.value, changed.version) == ("+8613912345678", 2)
    [change] = ContactChange.objects.filter(contact=mobile)
    assert (change.changed_by, change.reason, change.version) == (collector, "借款人来电告知新号码", 2)
    assert change.changes == {"value": ["+8618262556261", "+8613912345678"]}


def test_a_change_needs_a_reason(mobile, collector):
    with pytest.raises(CollectionError):
        contact_update(contact=mobile, by=collector, reason="  ", expected_version=1, opt_out_sms=True)

    assert Contact.objects.get(pk=mobile.pk).opt_out_sms is False


@pytest.mark.usefixtures("in_english")
def test_a_change_on_an_older_version_is_refused_in_words(mobile, collector, supervisor):
    update(mobile, collector, do_not_contact=True)

    with pytest.raises(StaleContact) as refused:
        contact_update(contact=mobile, by=supervisor, reason="撤销", expected_version=1, do_not_contact=False)

    assert "after you opened it" in refused.value.message
    assert Contact.objects.get(pk=mobile.pk).do_not_contact is True


def test_nothing_changed_records_nothing(mobile, collector):
    update(mobile, collector, kind=Contact.Kind.MOBILE)

    assert Contact.objects.get(pk=mobile.pk).version == 1
    assert not ContactChange.objects.exists()


@pytest.mark.parametrize("flag", Contact.FLAGS)
def test_anyone_on_the_case_sets_a_flag_only_a_supervisor_clears_it(mobile, collector, supervisor, flag):
    update(mobile, collector, **{flag: True})

    with pytest.raises(PermissionDenied):
        update(mobile, collector, **{flag: False})
    assert getattr(Contact.objects.get(pk=mobile.pk), flag) is True

    update(mobile, supervisor, **{flag: False})
    assert getattr(Contact.objects.get(pk=mobile.pk), flag) is False


@pytest.mark.parametrize("own", [Contact.Kind.MOBILE, Contact.Kind.HOME, Contact.Kind.EMAIL])
def test_only_a_supervisor_makes_a_third_party_the_borrowers_own(relative, collector, supervisor, own):
    value = "chen.xu@example.cn" if own == Contact.Kind.EMAIL else relative.value

    with pytest.raises(PermissionDenied):
        update(relative, collector, kind=own, value=value)
    assert Contact.objects.get(pk=relative.pk).kind == Contact.Kind.EMERGENCY

    update(relative, supervisor, kind=own, value=value)
    assert Contact.objects.get(pk=relative.pk).kind == own


def test_a_collector_may_mark_an_own_contact_a_third_party(mobile, collector):
    update(mobile, collector, kind=Contact.Kind.EMERGENCY)

    assert Contact.objects.get(pk=mobile.pk).kind == Contact.Kind.EMERGENCY


def test_giving_a_contact_to_another_borrower_needs_a_supervisor_and_both_in_reach(mobile, collector, supervisor, team):
    others = CaseFactory(assigned_to=collector, team=team, loan__installments=False).loan.borrower
    stranger = BorrowerFactory()

    with pytest.raises(PermissionDenied):
        update(mobile, collector, borrower=others)
    with pytest.raises(PermissionDenied):
        update(mobile, supervisor, borrower=stranger)
    update(mobile, supervisor, borrower=others.pk)

    assert Contact.objects.get(pk=mobile.pk).borrower == others
    assert ContactChange.objects.get(contact=mobile).changes["borrower"][1] == others.pk


def test_a_contact_outside_ones_cases_is_refused(mobile):
    other_collector = UserFactory(roles=["collector"])
    other_supervisor = TeamFactory().supervisor

    for user in (other_collector, other_supervisor):
        with pytest.raises(PermissionDenied):
            update(mobile, user, do_not_contact=True)
    assert Contact.objects.get(pk=mobile.pk).version == 1


def test_a_number_that_is_not_one_is_refused(mobile, collector):
    with pytest.raises(ValidationError):
        update(mobile, collector, value="not a number")


def test_a_number_the_borrower_already_has_is_refused(mobile, collector, case):
    home = ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.HOME)

    with pytest.raises(CollectionError):
        update(home, collector, value=mobile.value)


# --- attempts mark contacts on a new version ----------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "field", "value"),
    [
        (Outcome.DO_NOT_CONTACT, "do_not_contact", True),
        (Outcome.WRONG_NUMBER, "verification", Contact.Verification.WRONG),
        (Outcome.RIGHT_PARTY_CONTACT, "verification", Contact.Verification.VERIFIED),
    ],
)
def test_an_attempt_that_marks_the_contact_raises_its_version_and_records_why(mobile, collector, outcome, field, value):
    attempt = attempt_log(
        case=mobile.borrower.loans.get().collection_cases.get(),
        contact=mobile,
        channel=ContactChannel.CALL,
        by=collector,
        at=NOON,
        outcome=outcome,
    )

    contact = Contact.objects.get(pk=mobile.pk)
    assert getattr(contact, field) == value and contact.version == 2
    change = ContactChange.objects.get(contact=mobile)
    assert change.changed_by == collector and str(attempt.pk) in change.reason
    assert change.changes[field][1] == value


def test_a_form_opened_before_a_do_not_contact_cannot_undo_it(mobile, collector, supervisor, case):
    """The review's race (F5): a supervisor opens the contact; a collector logs "do not contact";
    the supervisor's save, made on the version they saw, is refused."""
    opened_at_version = Contact.objects.get(pk=mobile.pk).version
    attempt_log(
        case=case, contact=mobile, channel=ContactChannel.CALL, by=collector, at=NOON, outcome=Outcome.DO_NOT_CONTACT
    )

    with pytest.raises(StaleContact):
        contact_update(
            contact=mobile,
            by=supervisor,
            reason="整理联系人",
            expected_version=opened_at_version,
            do_not_contact=False,
            verification=Contact.Verification.VERIFIED,
        )

    assert Contact.objects.get(pk=mobile.pk).do_not_contact is True


def test_an_attempt_on_a_copy_whose_number_was_corrected_meanwhile_is_logged(mobile, collector, case):
    """F15: the number changed between the collector reading the contact and logging the call;
    attempt_log raised StopIteration."""
    stale = Contact.objects.get(pk=mobile.pk)
    update(mobile, collector, value="+8613912345678")

    attempt = attempt_log(
        case=case, contact=stale, channel=ContactChannel.CALL, by=collector, at=NOON, outcome=Outcome.NO_ANSWER
    )

    assert attempt.contact.value == "+8613912345678"
    assert ContactAttempt.objects.filter(case=case).count() == 1


# --- the admin --------------------------------------------------------------------------------------


def change_form(contact, **fields) -> dict:
    return {
        "borrower": contact.borrower_id,
        "kind": contact.kind,
        "value": contact.value,
        "name": contact.name,
        "relation": contact.relation,
        "verification": contact.verification,
        "source": contact.source,
        "changes-TOTAL_FORMS": 0,
        "changes-INITIAL_FORMS": 0,
        **fields,
    }


def protected_form(contact, **fields) -> dict:
    data = {
        "version": contact.version,
        "borrower": contact.borrower_id,
        "kind": contact.kind,
        "value": contact.value,
        "verification": contact.verification,
        "reason": "核实",
    }
    data.update({flag: "on" for flag in Contact.FLAGS if getattr(contact, flag)})
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def staff(client, collector):
    client.force_login(collector)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_the_reviews_rekinding_through_the_admin_change_form_changes_nothing(staff, relative):
    """F2a: POST /admin/loans/contact/319/change/ kind=mobile verification=verified → 302, and
    reminders went to the father. The fields are read-only now: the post leaves them as they were."""
    response = staff.post(
        reverse("admin:loans_contact_change", args=[relative.pk]),
        change_form(relative, kind=Contact.Kind.MOBILE, verification=Contact.Verification.VERIFIED),
    )

    assert response.status_code == 302
    contact = Contact.objects.get(pk=relative.pk)
    assert (contact.kind, contact.verification, contact.version) == (Contact.Kind.EMERGENCY, "unverified", 1)


def test_the_reviews_do_not_contact_clearing_through_the_admin_change_form_changes_nothing(staff, mobile):
    """F5: collector_staff POST without do_not_contact → the flag was cleared."""
    Contact.objects.filter(pk=mobile.pk).update(do_not_contact=True)

    staff.post(reverse("admin:loans_contact_change", args=[mobile.pk]), change_form(mobile))

    assert Contact.objects.get(pk=mobile.pk).do_not_contact is True


@pytest.mark.usefixtures("in_english")
def test_a_collector_cannot_rekind_a_relative_on_the_contacts_page_either(staff, relative):
    url = reverse("admin:loans_contact_protected_change", args=[relative.pk])
    assert staff.get(url).status_code == 200

    response = staff.post(url, protected_form(relative, kind=Contact.Kind.MOBILE))

    assert response.status_code == 200
    assert "Only a supervisor" in response.content.decode()
    assert Contact.objects.get(pk=relative.pk).kind == Contact.Kind.EMERGENCY


@pytest.mark.usefixtures("in_english")
def test_a_stale_admin_form_cannot_undo_a_newer_do_not_contact(client, supervisor, collector, mobile, case):
    supervisor.is_staff = True
    supervisor.save()
    client.force_login(supervisor)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    opened = protected_form(mobile)  # version 1, do-not-contact off
    attempt_log(
        case=case, contact=mobile, channel=ContactChannel.CALL, by=collector, at=NOON, outcome=Outcome.DO_NOT_CONTACT
    )

    response = client.post(reverse("admin:loans_contact_protected_change", args=[mobile.pk]), opened)

    assert response.status_code == 200
    assert "reload it" in response.content.decode()
    assert Contact.objects.get(pk=mobile.pk).do_not_contact is True


def test_a_supervisor_changes_a_contact_on_its_page_with_a_reason(client, supervisor, relative):
    supervisor.is_staff = True
    supervisor.save()
    client.force_login(supervisor)

    response = client.post(
        reverse("admin:loans_contact_protected_change", args=[relative.pk]),
        protected_form(relative, do_not_contact="on", value="+8617852041243", reason="家属要求不再联系"),
    )

    assert response.status_code == 302
    contact = Contact.objects.get(pk=relative.pk)
    assert (contact.do_not_contact, contact.version) == (True, 2)
    assert ContactChange.objects.get(contact=relative).reason == "家属要求不再联系"
    page = client.get(reverse("admin:loans_contact_change", args=[relative.pk])).content.decode()
    assert "家属要求不再联系" in page
    history = page.split("家属要求不再联系")[1]
    assert "+86178****1242" in history and "+86178****1243" in history  # the history masks numbers
    assert "17852041242" not in history and "17852041243" not in history


# --- adding a contact ------------------------------------------------------------------------------


def add_form(borrower, **fields) -> dict:
    return {
        "borrower": borrower.pk,
        "kind": Contact.Kind.MOBILE,
        "value": "139 8765 4321",
        "name": "",
        "relation": "",
        "verification": Contact.Verification.UNVERIFIED,
        "source": "",
        "reason": "借款人来电告知新号码",
        "changes-TOTAL_FORMS": 0,
        "changes-INITIAL_FORMS": 0,
        **fields,
    }


def test_a_contact_added_in_the_admin_is_recorded_with_its_reason(staff, case):
    response = staff.post(reverse("admin:loans_contact_add"), add_form(case.loan.borrower))

    assert response.status_code == 302
    contact = Contact.objects.get(borrower=case.loan.borrower, value="+8613987654321")
    [change] = ContactChange.objects.filter(contact=contact)
    assert (change.reason, change.version, change.changes["kind"]) == ("借款人来电告知新号码", 1, [None, "mobile"])


@pytest.mark.usefixtures("in_english")
def test_nobody_adds_an_own_mobile_to_a_borrower_outside_their_cases(staff):
    """An "own mobile" put on another team's borrower would be sent that debt's reminders."""
    stranger = CaseFactory(loan__installments=False).loan.borrower

    response = staff.post(reverse("admin:loans_contact_add"), add_form(stranger))

    assert response.status_code == 200
    assert "not of a case of yours" in response.content.decode()
    assert not Contact.objects.filter(borrower=stranger, value="+8613987654321").exists()


def test_adding_a_contact_needs_a_reason(case, collector):
    contact = Contact(borrower=case.loan.borrower, kind=Contact.Kind.MOBILE, value="13987654321")

    with pytest.raises(CollectionError):
        contact_add(contact=contact, by=collector, reason=" ")

    assert not Contact.objects.filter(value="+8613987654321").exists()


def test_contacts_and_borrowers_are_never_deleted_in_the_admin(client, mobile):
    """Deleting a do-not-contact number and adding it again would lift the flag."""
    root = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(root)

    response = client.post(reverse("admin:loans_contact_delete", args=[mobile.pk]), {"post": "yes"})
    borrower_response = client.post(reverse("admin:loans_borrower_delete", args=[mobile.borrower_id]), {"post": "yes"})

    assert (response.status_code, borrower_response.status_code) == (403, 403)
    assert Contact.objects.filter(pk=mobile.pk).exists()
