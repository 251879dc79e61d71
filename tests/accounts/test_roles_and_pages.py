import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from accounts.roles import ROLES
from tests.accounts.factories import TeamFactory, UserFactory
from tests.loans.factories import LoanFactory


def test_the_four_roles_exist_with_their_permissions(db):
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)
    collector = UserFactory(roles=["collector"])
    admin = UserFactory(roles=["admin"])
    legal = UserFactory(roles=["legal_officer"])

    assert collector.has_perm("loans.view_loan") and collector.has_perm("loans.change_contact")
    assert not collector.has_perm("loans.change_loan") and not collector.has_perm("loans.import_portfolio")
    assert admin.has_perm("loans.import_portfolio") and admin.has_perm("accounts.add_team")
    assert legal.has_perm("loans.view_payment") and not legal.has_perm("loans.change_contact")


def test_a_team_has_a_supervisor_and_members(db):
    team = TeamFactory()
    collectors = [UserFactory(roles=["collector"]) for _ in range(3)]
    team.members.add(*collectors)

    assert team.supervisor.has_role("supervisor")
    assert set(collectors[0].teams.all()) == {team}
    assert team.members.count() == 3


def test_the_user_model_is_the_custom_one(settings):
    assert settings.AUTH_USER_MODEL == "accounts.User"
    assert User._meta.app_label == "accounts"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_role_and_portfolio_migrations_reverse_and_reapply():
    call_command("migrate", "loans", "zero", verbosity=0)
    call_command("migrate", "accounts", "0001", verbosity=0)
    assert not Group.objects.filter(name__in=ROLES).exists()

    call_command("migrate", verbosity=0)

    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)
    assert UserFactory(roles=["collector"]).has_perm("loans.view_loan")


def test_the_login_page_speaks_chinese_by_default(client, db):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert "登录" in response.content.decode()


def test_the_portfolio_page_needs_a_login(client, db):
    response = client.get(reverse("portfolio"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_portfolio_overview(client, db, role, django_assert_max_num_queries):
    LoanFactory()
    client.force_login(UserFactory(roles=[role]))

    with django_assert_max_num_queries(8):
        response = client.get(reverse("portfolio"))

    assert response.status_code == 200
    assert "M4+" in response.content.decode()


def test_logging_in_with_a_password_reaches_the_portfolio(client, db):
    UserFactory(username="zhang", password="s3cret-pass")

    response = client.post(reverse("login"), {"username": "zhang", "password": "s3cret-pass"}, follow=True)

    assert [url for url, _status in response.redirect_chain] == [reverse("home"), reverse("portfolio")]


def test_staff_reach_the_admin_and_others_do_not(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:loans_loan_changelist")).status_code == 200
    client.force_login(UserFactory(roles=["collector"]))
    assert client.get(reverse("admin:index")).status_code == 302


def test_health_check_answers(client, db):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_the_desk_speaks_chinese_even_to_an_english_browser_until_the_user_switches(client, db):
    assert "登录" in client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()

    client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()

    assert "Log in" in page
    assert ">简体中文</button>" in page  # the way back is labelled in its own language
