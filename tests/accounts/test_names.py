"""People's names on the desk: a Chinese name family name first without a space (朱建国), a
name in Latin letters given name first; the user admin asks for the family name first."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.admin import UserAdmin
from accounts.models import User
from tests.accounts.factories import UserFactory


@pytest.mark.parametrize(
    ("last_name", "first_name", "full_name"),
    [
        ("朱", "建国", "朱建国"),
        ("欧阳", "娜娜", "欧阳娜娜"),
        ("Zhu", "Wei", "Wei Zhu"),
        ("", "Wei", "Wei"),
        ("朱", "", "朱"),
        ("", "", ""),
    ],
)
def test_the_full_name_is_family_name_first_for_chinese_names_and_given_name_first_otherwise(
    last_name, first_name, full_name
):
    user = User(username="u", last_name=last_name, first_name=first_name)

    assert user.get_full_name() == full_name


def test_a_user_reads_as_their_full_name_and_username():
    assert str(User(username="zhu", last_name="朱", first_name="建国")) == "朱建国 (zhu)"
    assert str(User(username="wei", last_name="Zhu", first_name="Wei")) == "Wei Zhu (wei)"
    assert str(User(username="anon")) == "anon"


def test_a_chinese_short_name_is_the_full_name_a_latin_one_the_given_name():
    assert User(last_name="朱", first_name="建国").get_short_name() == "朱建国"
    assert User(last_name="Zhu", first_name="Wei").get_short_name() == "Wei"


def test_the_user_admin_lists_and_edits_the_family_name_before_the_given_name():
    listed = UserAdmin.list_display
    edited = [name for _title, options in UserAdmin.fieldsets for name in options["fields"]]

    assert listed.index("last_name") < listed.index("first_name")
    assert edited.index("last_name") + 1 == edited.index("first_name")


def test_the_user_change_page_shows_the_family_name_field_first(client, db):
    admin = UserFactory(is_staff=True, is_superuser=True)
    user = UserFactory(last_name="朱", first_name="建国")
    client.force_login(admin)

    page = client.get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()

    assert 0 < page.index('name="last_name"') < page.index('name="first_name"')


def test_role_names_are_the_role_labels(db):
    user = UserFactory(roles=["collector", "supervisor"])

    assert sorted(user.role_names) == ["主管", "催收员"]


def test_role_names_read_prefetched_groups_without_a_query(db, django_assert_num_queries):
    UserFactory(roles=["collector"])
    UserFactory(roles=["supervisor", "admin"])
    users = list(User.objects.exclude(username="system").prefetch_related("groups"))

    with django_assert_num_queries(0):
        names = [user.role_names for user in users]

    assert sorted(map(sorted, names)) == [["主管", "管理员"], ["催收员"]]


def test_the_user_list_shows_each_users_roles_with_no_query_per_user(client, db):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    UserFactory(roles=["collector"], last_name="朱", first_name="建国")
    url = reverse("admin:accounts_user_changelist")
    client.get(url)  # warm the caches (content types, sessions)

    with CaptureQueriesContext(connection) as few_users:
        page = client.get(url).content.decode()
    for _ in range(5):
        UserFactory(roles=["supervisor"])
    with CaptureQueriesContext(connection) as more_users:
        more_page = client.get(url).content.decode()

    assert len(more_users.captured_queries) == len(few_users.captured_queries)
    assert "催收员" in page and "朱" in page
    assert more_page.count("主管") >= 5
