"""Privilege in the user and team admin (security review F1, F4): only a superuser grants superuser,
staff, roles or permissions, or changes a superuser; a password set on someone else says why, in the
admin's history and without the password; the `system` account cannot sign in, is hidden from the
admin and is in no team; supervisors only look at teams."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts.models import Team, User
from accounts.services import team_update
from tests.accounts.factories import TeamFactory, UserFactory

STRONG = "Vq8#mT2!rLw9"


def staff(username, *roles, **extra):
    return UserFactory(username=username, roles=list(roles), is_staff=True, **extra)


@pytest.fixture
def admin_role(db):
    """The `admin` role, not a superuser (the review's `admin_role`)."""
    return staff("admin_role", "admin")


@pytest.fixture
def superuser(db):
    return staff("root", is_superuser=True)


def change_form(user: User, **changes) -> dict:
    """The user admin's change form as posted for `user`, with `changes`."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "phone_extension": "",
    }
    data.update(changes)
    return data


# --- granting privilege ------------------------------------------------------------------------------------


def test_an_admin_role_user_cannot_make_themselves_superuser(client, admin_role):
    """The review's request: POST /admin/accounts/user/<id>/change/ is_superuser=on as admin_role."""
    client.force_login(admin_role)
    every_group = list(Group.objects.values_list("pk", flat=True))
    every_permission = list(Permission.objects.values_list("pk", flat=True)[:5])

    response = client.post(
        reverse("admin:accounts_user_change", args=[admin_role.pk]),
        change_form(
            admin_role,
            is_superuser="on",
            is_staff="on",
            groups=every_group,
            user_permissions=every_permission,
            first_name="改了",
        ),
    )

    assert response.status_code == 302  # the rest of the form was saved
    admin_role.refresh_from_db()
    assert admin_role.first_name == "改了"
    assert not admin_role.is_superuser
    assert list(admin_role.groups.values_list("name", flat=True)) == ["admin"]
    assert not admin_role.user_permissions.exists()
    response = client.get(reverse("admin:django_celery_beat_periodictask_changelist"))
    assert response.status_code == 403


def test_an_admin_role_user_cannot_grant_staff_or_roles_to_someone_else(client, admin_role):
    collector = UserFactory(username="collector1", roles=["collector"])
    client.force_login(admin_role)

    client.post(
        reverse("admin:accounts_user_change", args=[collector.pk]),
        change_form(collector, is_staff="on", groups=list(Group.objects.values_list("pk", flat=True))),
    )

    collector.refresh_from_db()
    assert not collector.is_staff
    assert list(collector.groups.values_list("name", flat=True)) == ["collector"]


def test_a_superuser_grants_them(client, superuser):
    collector = UserFactory(username="collector1", roles=["collector"])
    client.force_login(superuser)

    response = client.post(
        reverse("admin:accounts_user_change", args=[collector.pk]),
        change_form(
            collector, is_staff="on", groups=list(Group.objects.filter(name="supervisor").values_list("pk", flat=True))
        ),
    )

    assert response.status_code == 302
    collector.refresh_from_db()
    assert collector.is_staff
    assert list(collector.groups.values_list("name", flat=True)) == ["supervisor"]


def test_an_admin_role_user_cannot_change_a_superuser(client, admin_role, superuser):
    client.force_login(admin_role)

    change = client.post(
        reverse("admin:accounts_user_change", args=[superuser.pk]), change_form(superuser, email="x@example.com")
    )
    password = client.post(
        reverse("admin:auth_user_password_change", args=[superuser.pk]),
        {"password1": STRONG, "password2": STRONG, "usable_password": "true", "reason": "locked out"},
    )

    assert change.status_code == 403
    assert password.status_code == 403
    superuser.refresh_from_db()
    assert superuser.email != "x@example.com"
    assert not superuser.check_password(STRONG)


# --- passwords ---------------------------------------------------------------------------------------------


def set_password(client, user, **extra):
    return client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": STRONG, "password2": STRONG, "usable_password": "true", **extra},
    )


@pytest.mark.usefixtures("in_english")
def test_a_password_set_on_someone_else_needs_a_reason(client, admin_role):
    collector = UserFactory(username="collector1", roles=["collector"])
    client.force_login(admin_role)

    refused = set_password(client, collector)

    assert refused.status_code == 200
    assert "reason" in refused.context["form"].errors
    collector.refresh_from_db()
    assert not collector.check_password(STRONG)


@pytest.mark.usefixtures("in_english")
def test_the_reason_is_kept_in_the_admins_history_without_the_password(client, admin_role):
    collector = UserFactory(username="collector1", roles=["collector"])
    client.force_login(admin_role)

    response = set_password(client, collector, reason="Forgot it; asked by phone, ticket 42")

    assert response.status_code == 302
    collector.refresh_from_db()
    assert collector.check_password(STRONG)
    entry = LogEntry.objects.get(object_id=str(collector.pk))
    assert "ticket 42" in entry.get_change_message()
    assert STRONG not in entry.change_message


def test_a_user_setting_their_own_password_gives_no_reason(client, admin_role):
    client.force_login(admin_role)

    response = set_password(client, admin_role)

    assert response.status_code == 302
    admin_role.refresh_from_db()
    assert admin_role.check_password(STRONG)


# --- the system account ------------------------------------------------------------------------------------


def test_the_system_account_is_hidden_and_its_password_page_refused(client, admin_role):
    """The review's request: POST /admin/accounts/user/<system>/password/ as admin_role, then log in as it."""
    system = User.objects.get(username="system")
    client.force_login(admin_role)

    response = set_password(client, system, reason="want to log in as it")
    listed = client.get(reverse("admin:accounts_user_changelist"))

    assert response.status_code in (302, 404)
    assert not User.objects.get(pk=system.pk).check_password(STRONG)
    assert system.pk not in {row.pk for row in listed.context["cl"].result_list}


def test_the_system_account_cannot_sign_in_even_with_a_password(client, db):
    system = User.objects.get(username="system")
    assert not system.has_usable_password()  # the migration
    system.set_password(STRONG)
    system.save()

    assert authenticate(username="system", password=STRONG) is None
    assert not client.login(username="system", password=STRONG)
    # Others still sign in through the same backend.
    UserFactory(username="collector1", password=STRONG)
    assert authenticate(username="collector1", password=STRONG) is not None


def test_the_system_account_keeps_its_permissions_for_the_jobs(db):
    system = User.objects.get(username="system")

    assert system.is_active
    assert system.has_perm("collection.decide_escalation")


# --- teams -------------------------------------------------------------------------------------------------


def team_form(team, **changes):
    data = {
        "name": team.name,
        "supervisor": team.supervisor_id or "",
        "members": list(team.members.values_list("pk", flat=True)),
    }
    data.update(changes)
    return data


def test_a_supervisor_cannot_take_another_supervisors_team(client, db):
    """The review's request: supervisor1 POST /admin/accounts/team/<supervisor2's team>/change/."""
    supervisor1 = staff("supervisor1", "supervisor")
    supervisor2 = staff("supervisor2", "supervisor")
    collector6 = UserFactory(username="collector6", roles=["collector"])
    team2 = TeamFactory(name="二组", supervisor=supervisor2)
    team2.members.add(collector6)
    own = TeamFactory(name="一组", supervisor=supervisor1)
    client.force_login(supervisor1)

    taken = client.post(
        reverse("admin:accounts_team_change", args=[team2.pk]), team_form(team2, supervisor=supervisor1.pk, members=[])
    )
    own_changed = client.post(
        reverse("admin:accounts_team_change", args=[own.pk]), team_form(own, members=[collector6.pk])
    )

    assert taken.status_code == 403
    assert own_changed.status_code == 403
    team2.refresh_from_db()
    assert (team2.supervisor, list(team2.members.all())) == (supervisor2, [collector6])
    assert not own.members.exists()
    assert client.get(reverse("admin:accounts_team_change", args=[team2.pk])).status_code == 200  # may look


def test_supervisors_hold_no_change_team_permission(db):
    assert not Permission.objects.filter(group__name="supervisor", codename="change_team").exists()
    assert Permission.objects.filter(group__name="admin", codename="change_team").exists()


@pytest.mark.usefixtures("in_english")
def test_the_team_form_does_not_offer_the_system_account(client, superuser):
    system = User.objects.get(username="system")
    team = TeamFactory(name="一组")
    client.force_login(superuser)

    as_member = client.post(reverse("admin:accounts_team_change", args=[team.pk]), team_form(team, members=[system.pk]))
    as_supervisor = client.post(
        reverse("admin:accounts_team_change", args=[team.pk]), team_form(team, supervisor=system.pk)
    )

    assert as_member.status_code == 200 and as_supervisor.status_code == 200  # the form, with its errors
    team.refresh_from_db()
    assert team.supervisor != system and not team.members.filter(pk=system.pk).exists()


def test_team_update_is_an_admins_decision_and_refuses_the_system_account(db, admin_role):
    supervisor = UserFactory(username="supervisor1", roles=["supervisor"])
    team = TeamFactory(name="一组", supervisor=supervisor)
    collector = UserFactory(username="collector1", roles=["collector"])
    system = User.objects.get(username="system")

    with pytest.raises(PermissionDenied):
        team_update(team=team, by=supervisor, members=[collector])
    with pytest.raises(ValidationError):
        team_update(team=team, by=admin_role, members=[collector, system])
    with pytest.raises(ValidationError):
        team_update(team=team, by=admin_role, supervisor=system)
    team_update(team=team, by=admin_role, members=[collector])

    assert list(team.members.all()) == [collector]
    assert Team.objects.get(pk=team.pk).supervisor == supervisor


@pytest.mark.postgres
def test_the_database_refuses_the_system_account_in_a_team(db):
    assert connection.vendor == "postgresql"
    system = User.objects.get(username="system")
    team = TeamFactory(name="一组")

    with pytest.raises(IntegrityError), transaction.atomic():
        team.members.add(system)
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.filter(pk=team.pk).update(supervisor=system)


def test_an_admin_role_user_still_adds_people_without_privilege(client, admin_role):
    client.force_login(admin_role)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {"username": "newcomer", "password1": STRONG, "password2": STRONG, "usable_password": "true"},
    )

    assert response.status_code == 302
    newcomer = User.objects.get(username="newcomer")
    assert not (newcomer.is_superuser or newcomer.is_staff or newcomer.groups.exists())
