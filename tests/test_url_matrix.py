"""Every URL of the project, the admin's included, requested by every role and by an anonymous
caller, against the answer each must get. The URLs come from the URL conf, so a new page without
a line in EXPECTED fails here until someone decides who may open it.

Object pages are opened twice where the object belongs to a case: once on the collector's own case
(in the supervisor's team) and once on another team's case, so the matrix shows the scoping too.

Answers: ok (200), login (sent to a login page), away (another redirect: the admin's "does not
exist" for an object out of reach, a done action), denied (403), missing (404), method (405)."""

import datetime
import re
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, SolarSchedule

from accounts import roles
from accounts.models import User
from collection.machine import Stage
from collection.models import CaseRouting, CollectionCase

ROLES = ("anonymous", "collector", "supervisor", "legal_officer", "admin", "superuser")

# How each admin model reaches a collection case, for picking its object on a case in and out of
# reach. Models not named here are the desk's configuration or its own records: one object serves.
CASE_PATH = {
    "collection.collectioncase": "",
    "collection.caseassignment": "case__",
    "collection.escalationrequest": "case__",
    "collection.contactattempt": "case__",
    "collection.conductrefusal": "case__",
    "collection.callconsent": "case__",
    "collection.promisetopay": "case__",
    "collection.repaymentplan": "case__",
    "collection.planinstallment": "plan__case__",
    "collection.outboundmessage": "case__",
    "loans.borrower": "loans__collection_cases__",
    "loans.contact": "borrower__loans__collection_cases__",
    "loans.loan": "collection_cases__",
    "loans.installment": "loan__collection_cases__",
    "loans.payment": "loan__collection_cases__",
    "loans.paymentallocation": "payment__loan__collection_cases__",
}


# Admin URLs not named after their model's app: Django's user admin keeps auth's name.
OTHER_ADMIN_URLS = {"admin:auth_user_password_change": User}


def _answer(response) -> str:
    if response.status_code == 200:
        return "ok"
    if response.status_code in (301, 302):
        target = response["Location"]
        login_urls = (reverse("login"), reverse("admin:login"))
        return "login" if target.split("?")[0] in login_urls else "away"
    return {403: "denied", 404: "missing", 405: "method", 400: "bad"}.get(
        response.status_code, str(response.status_code)
    )


def _patterns(resolvers=None, namespace=""):
    """(name, pattern, parameter names) of every named URL, namespaces included."""
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            parameters = sorted(entry.pattern.regex.groupindex)
            yield f"{namespace}{entry.name}", entry, parameters


class Desk:
    """The seeded desk: one user per role and, per admin model, its objects in and out of reach."""

    def __init__(self):
        case = (
            CollectionCase.objects.filter(
                stage=Stage.NEGOTIATION, assigned_to__isnull=False, team__supervisor__isnull=False
            )
            .select_related("team")
            .order_by("pk")
            .first()
        )
        self.own_case = case
        self.other_case = (
            CollectionCase.objects.filter(stage__in=[Stage.REMINDER, Stage.NEGOTIATION], team__isnull=False)
            .exclude(team=case.team)
            .order_by("pk")
            .first()
        )
        self.users = {
            "anonymous": None,
            "collector": case.assigned_to,
            "supervisor": case.team.supervisor,
            "legal_officer": User.objects.filter(groups__name=roles.LEGAL_OFFICER).order_by("pk").first(),
            "admin": User.objects.filter(groups__name=roles.ADMIN, is_superuser=False).order_by("pk").first(),
            "superuser": User.objects.create_superuser("matrix-root", password=None),
        }
        # Schedules the demo does not use, so that their pages have an object to open.
        ClockedSchedule.objects.create(clocked_time=timezone.now())
        SolarSchedule.objects.create(event="sunrise", latitude=31.23, longitude=121.47)
        CaseRouting.objects.get_or_create(product=None, defaults={"team": self.own_case.team})

        self.picked = {}
        self._pick_case_records()

    def _pick_case_records(self):
        """Per case record model, one object on a case of the collector's in the supervisor's team
        and one on another team's case, neither in litigation. Where the demo has none, a case
        holding one is handed over (the module's data is rolled back)."""
        other_team = self.other_case.team
        used = set()
        for reach, assigned_to, team in (
            ("own", self.own_case.assigned_to, self.own_case.team),
            ("other", self.other_case.assigned_to, other_team),
        ):
            for label, path in CASE_PATH.items():
                model = apps.get_model(label)
                key = f"{path}pk" if path else "pk"
                objects = model._default_manager.exclude(**{f"{path}stage": Stage.LITIGATION}).order_by("pk")
                obj = objects.filter(**{f"{path}assigned_to": assigned_to, f"{path}team": team}).first()
                if obj is None:
                    obj = objects.exclude(**{f"{key.removesuffix('pk')}pk__in": used}).first()
                    case_id = objects.filter(pk=obj.pk).values_list(key, flat=True).first()
                    CollectionCase.objects.filter(pk=case_id).update(assigned_to=assigned_to, team=team)
                used.add(model._default_manager.filter(pk=obj.pk).values_list(key, flat=True).first())
                self.picked[label, reach] = obj

    def object_of(self, model, reach: str):
        label = model._meta.label_lower
        if label == "accounts.user":  # someone else's account: the collector's
            return self.users["collector"]
        if (label, reach) in self.picked:
            return self.picked[label, reach]
        return model._default_manager.order_by("pk").first()


def _requests(desk: Desk):
    """(key, url) for every named URL; a key per reach for object pages of case records."""
    models_by_admin_prefix = {
        f"admin:{model._meta.app_label}_{model._meta.model_name}_": model for model in admin.site._registry
    }
    for name, _pattern, parameters in _patterns():
        if name in ("admin:app_list",):
            for app_label in sorted({model._meta.app_label for model in admin.site._registry}):
                yield f"{name}[{app_label}]", reverse(name, kwargs={"app_label": app_label})
            continue
        if name == "admin:view_on_site":
            from django.contrib.contenttypes.models import ContentType

            content_type = ContentType.objects.get_for_model(CollectionCase)
            for reach in ("own", "other"):
                case = desk.own_case if reach == "own" else desk.other_case
                yield f"{name}[{reach}]", reverse(name, args=[content_type.pk, case.pk])
            continue
        if not parameters:
            yield name, reverse(name)
            continue
        model = OTHER_ADMIN_URLS.get(name) or next(
            (m for prefix, m in models_by_admin_prefix.items() if name.startswith(prefix)), None
        )
        if model is None or parameters not in (["object_id"], ["id"]):
            raise AssertionError(f"{name}: the URL matrix does not know how to fill {parameters}; teach _requests")
        reaches = ("own", "other") if model._meta.label_lower in CASE_PATH else ("any",)
        for reach in reaches:
            obj = desk.object_of(model, reach)
            if obj is None:
                raise AssertionError(f"{name}: the seeded desk has no {model._meta.label} ({reach}); seed one")
            key = name if reach == "any" else f"{name}[{reach}]"
            yield key, reverse(name, args=[obj.pk])


@pytest.fixture(scope="module")
def seeded_desk(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock(), transaction.atomic():
        var_dir, settings.VAR_DIR = settings.VAR_DIR, tmp_path_factory.mktemp("var")
        try:
            call_command(
                "seed_demo",
                "--loans",
                "400",
                "--seed",
                "5",
                "--as-of",
                datetime.date(2026, 11, 30).isoformat(),
                stdout=StringIO(),
                stderr=StringIO(),
            )
            yield Desk()
        finally:
            settings.VAR_DIR = var_dir
            transaction.set_rollback(True)


def actual_matrix(desk: Desk) -> dict[str, tuple[str, ...]]:
    clients = {}
    for role, user in desk.users.items():
        client = Client()
        if user is not None:
            client.force_login(user)
        clients[role] = client
    return {key: tuple(_answer(clients[role].get(url)) for role in ROLES) for key, url in _requests(desk)}


# anonymous, collector, supervisor, legal_officer, admin, superuser
EXPECTED: dict[str, str] = {}


def test_every_url_answers_every_role_as_the_matrix_says(seeded_desk, db):
    actual = actual_matrix(seeded_desk)

    unknown = sorted(set(actual) - set(EXPECTED))
    assert not unknown, "URLs without an entry in EXPECTED (decide who may open them):\n" + "\n".join(
        f'    "{key}": "{" ".join(actual[key])}",' for key in unknown
    )
    gone = sorted(set(EXPECTED) - set(actual))
    assert not gone, f"EXPECTED names URLs the project no longer has: {gone}"
    differ = {key: " ".join(actual[key]) for key in actual if " ".join(actual[key]) != EXPECTED[key]}
    assert not differ, (
        "answers differ from the matrix (roles: "
        + " ".join(ROLES)
        + "):\n"
        + "\n".join(
            f'    "{key}": expected "{EXPECTED[key]}", got "{answers}"' for key, answers in sorted(differ.items())
        )
    )


def test_the_matrix_names_only_the_desk_s_roles():
    assert set(ROLES) - {"anonymous", "superuser"} == set(roles.ROLES)
    assert all(re.fullmatch(r"(\w+ ){5}\w+", answers) for answers in EXPECTED.values())
