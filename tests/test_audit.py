"""The audit trail (django-auditlog): who changed what, when, the old and new values, for every
change that matters, through a service, the admin or a job; append-only; numbers masked."""

import pytest
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from celery import shared_task
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from accounts.audit import audit_actor
from accounts.roles import SYSTEM_USERNAME
from collection.services import case_assign
from loans.models import Product
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory
from tests.loans.factories import BorrowerFactory, ContactFactory, ProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]


def entries_of(instance) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_object(instance).order_by("pk"))


def test_every_model_the_settings_name_is_audited():
    for item in settings.AUDITLOG_INCLUDE_TRACKING_MODELS:
        assert auditlog.contains(apps.get_model(item["model"])), item["model"]


def test_a_change_through_a_service_names_its_actor_and_the_values_before_and_after(admin_user):
    collector, newcomer = UserFactory(roles=["collector"]), UserFactory(roles=["collector"])
    team = TeamFactory()
    case = CaseFactory(assigned_to=collector, team=team)

    case_assign(case=case, to=newcomer, by=admin_user, reason="holiday")

    entry = entries_of(case)[-1]
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.actor == admin_user
    assert entry.changes_dict["assigned_to"] == [str(collector.pk), str(newcomer.pk)]


def test_an_admin_edit_records_the_admin_and_the_old_and_new_values(admin_client, admin_user):
    product = ProductFactory(grace_days=3)
    form = {
        field: getattr(product, field)
        for field in ("code", "name", "kind", "daily_penalty_rate", "plan_max_term_months")
    }
    form |= {
        "grace_days": 5,
        "plan_max_waiver_share": product.plan_max_waiver_share,
        "plan_min_first_payment_share": product.plan_min_first_payment_share,
        "is_active": "on",
    }

    response = admin_client.post(reverse("admin:loans_product_change", args=[product.pk]), form)

    assert response.status_code == 302, response.content.decode()[:2000]
    entry = entries_of(product)[-1]
    assert entry.actor == admin_user
    assert entry.changes_dict == {"grace_days": ["3", "5"]}


def test_a_changed_password_is_recorded_with_who_changed_it_but_not_its_hash(admin_client, admin_user):
    user = UserFactory(username="collector9")
    old_hash = user.password

    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {
            "password1": "Tall-Orange-Tree-41",
            "password2": "Tall-Orange-Tree-41",
            "usable_password": "true",
            "reason": "忘记密码，本人当面申请",
        },
    )

    assert response.status_code == 302
    user.refresh_from_db()
    entry = entries_of(user)[-1]
    assert entry.actor == admin_user
    assert entry.changes_dict["password"] == ["********", "********"]
    assert old_hash not in str(entry.changes) and user.password not in str(entry.changes)


def test_roles_and_teams_record_who_joined_and_left(admin_user):
    user = UserFactory()
    team = TeamFactory()

    with audit_actor(admin_user):
        user.groups.add(Group.objects.get(name="supervisor"))
        team.members.add(user)

    (grant,) = [entry for entry in entries_of(user) if "groups" in entry.changes_dict]
    assert grant.actor == admin_user
    assert grant.changes_dict["groups"]["objects"] == ["supervisor"]
    assert any("members" in entry.changes_dict for entry in entries_of(team))


def test_national_ids_and_numbers_are_masked_in_the_trail():
    borrower = BorrowerFactory(national_id="11010519491231002X")
    contact = ContactFactory(borrower=borrower, value="+8613856785678")

    contact.value = "+8613912345678"
    contact.save()

    created = entries_of(borrower)[0]
    assert created.changes_dict["national_id"] == ["None", "1101**********002X"]
    assert "11010519491231002X" not in created.object_repr
    changed = entries_of(contact)[-1]
    assert changed.changes_dict["value"] == ["+86138****5678", "+86139****5678"]
    assert "13912345678" not in changed.object_repr


@shared_task(name="tests.audit.rename_product")
def rename_product_task(product_id: int, name: str) -> None:
    product = Product.objects.get(pk=product_id)
    product.name = name
    product.save()


def test_a_task_acts_as_the_desks_system_account():
    product = ProductFactory()

    rename_product_task(product.pk, "新名称")

    assert entries_of(product)[-1].actor.username == SYSTEM_USERNAME


def test_an_actor_block_nests_and_gives_way_to_the_block_around_it(admin_user):
    product = ProductFactory()
    someone = UserFactory()

    with audit_actor(admin_user):
        with audit_actor(someone):
            product.name = "一"
            product.save()
        product.name = "二"
        product.save()

    assert [entry.actor for entry in entries_of(product)[-2:]] == [someone, admin_user]


def test_nobody_changes_or_deletes_an_entry_in_the_admin_not_even_a_superuser(admin_client):
    product = ProductFactory()
    entry = entries_of(product)[0]

    change = admin_client.post(reverse("admin:auditlog_logentry_change", args=[entry.pk]), {"action": 2})
    delete = admin_client.post(reverse("admin:auditlog_logentry_delete", args=[entry.pk]), {"post": "yes"})
    page = admin_client.get(reverse("admin:auditlog_logentry_changelist"))

    assert change.status_code == 403
    assert delete.status_code == 403
    assert LogEntry.objects.filter(pk=entry.pk, action=LogEntry.Action.CREATE).exists()
    assert page.status_code == 200
    assert "delete_selected" not in page.content.decode()


def test_admins_read_the_trail_with_masked_numbers(client):
    admin = UserFactory(roles=["admin"], is_staff=True)
    ContactFactory(value="+8613856785678")
    client.force_login(admin)

    page = client.get(reverse("admin:auditlog_logentry_changelist"))

    assert page.status_code == 200
    assert "13856785678" not in page.content.decode()
    assert "138****5678" in page.content.decode()


def test_a_collector_does_not_read_the_trail(client):
    client.force_login(UserFactory(roles=["collector"], is_staff=True))

    assert client.get(reverse("admin:auditlog_logentry_changelist")).status_code == 403


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    ["UPDATE auditlog_logentry SET changes = '{}' WHERE id = %s", "DELETE FROM auditlog_logentry WHERE id = %s"],
)
def test_the_database_refuses_to_update_or_delete_an_entry(statement):
    entry = entries_of(ProductFactory())[0]

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [entry.pk])

    with pytest.raises(DatabaseError), transaction.atomic():
        LogEntry.objects.filter(pk=entry.pk).delete()
    assert LogEntry.objects.filter(pk=entry.pk).exists()
