"""Every URL of the project, the admin's included, requested by every role and by an anonymous
caller, against the answer each must get. The URLs come from the URL conf, so a new page without
a line in EXPECTED fails here until someone decides who may open it.

Object pages are opened twice where the object belongs to a case: once on the collector's own case
(in the supervisor's team) and once on another team's case, so the matrix shows the scoping too.

Answers: ok (200), login (sent to a login page), away (another redirect: the admin's "does not
exist" for an object out of reach, a done action), denied (403), missing (404), method (405),
invalid (422: a form posted empty and refused in words, which shows the poster reached the action).

The workspace's actions take POST only: each is also posted empty, by every role, on a case in and
out of reach ("... POST")."""

import datetime
import io
import re
from decimal import Decimal
from io import StringIO

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, SolarSchedule

from accounts import roles
from accounts.models import User
from collection.machine import Stage
from collection.models import Callback, CaseNote, CaseRouting, CollectionCase
from legal.document_services import document_upload
from legal.models import Court, LawFirm, LegalCase
from loans.models import ImportRun, Payment
from loans.services import payment_record, payment_reverse

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
    "collection.callback": "case__",
    "collection.casenote": "case__",
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
    "loans.paymentreversal": "payment__loan__collection_cases__",
}


# The workspace's pages read with GET; its other URLs are actions taking POST.
WORKSPACE_PAGES = {"collection:queue", "collection:next_case", "collection:case", "collection:case_timeline"}

# Admin URLs not named after their model's app: Django's user admin keeps auth's name.
OTHER_ADMIN_URLS = {"admin:auth_user_password_change": User}


def _answer(response) -> str:
    if response.status_code == 200:
        return "ok"
    if response.status_code in (301, 302):
        target = response["Location"]
        login_urls = (reverse("login"), reverse("admin:login"))
        return "login" if target.split("?")[0] in login_urls else "away"
    return {403: "denied", 404: "missing", 405: "method", 400: "bad", 422: "invalid"}.get(
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


def _one_pixel_png() -> bytes:
    from PIL import Image

    image = io.BytesIO()
    Image.new("RGB", (1, 1)).save(image, "PNG")
    return image.getvalue()


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
        self._seed_records_the_demo_does_not_make()

        self.picked = {}
        self._pick_case_records()
        # A legal case on each, in preparing (its page and its actions; the legal track's reach
        # does not depend on the collection case's stage).
        self.legal_cases = {
            reach: LegalCase.objects.get_or_create(
                case=case, defaults={"opened_at": timezone.now(), "limitation_from": datetime.date(2026, 1, 1)}
            )[0]
            for reach, case in (("own", self.own_case), ("other", self.other_case))
        }
        self.legal_documents = {
            reach: document_upload(
                legal_case=legal_case,
                by=self.users["superuser"],
                uploaded_file=SimpleUploadedFile("receipt.png", _one_pixel_png(), content_type="image/png"),
                kind="receipt",
            )
            for reach, legal_case in self.legal_cases.items()
        }

    def _seed_records_the_demo_does_not_make(self):
        """Logins, an import run, and a payment reversal, a note and a callback on a case in and out
        of reach."""
        for model in (AccessAttempt, AccessLog, AccessFailureLog):
            model.objects.create(
                username="collector1",
                ip_address="127.0.0.1",
                user_agent="matrix",
                http_accept="*/*",
                path_info="/accounts/login/",
                **({"get_data": "", "post_data": "", "failures_since_start": 1} if model is AccessAttempt else {}),
            )
        ImportRun.objects.create(
            kind="loans", ran_by=self.users["admin"], via=ImportRun.Via.COMMAND, started_at=timezone.now()
        )
        # The legal track's lists (the letter templates come with their migration).
        Court.objects.get_or_create(name="矩阵测试人民法院")
        LawFirm.objects.get_or_create(name="矩阵测试律师事务所")
        for case in (self.own_case, self.other_case):
            payment = Payment.objects.filter(loan=case.loan).order_by("pk").first() or payment_record(
                loan=case.loan,
                amount=Decimal("1.00"),
                received_at=timezone.now(),
                reference=f"M-{case.pk}",
                channel="app",
            )
            payment_reverse(payment=payment, by=self.users["superuser"], reason="matrix")
            CaseNote.objects.create(case=case, text="matrix", written_by=self.users["superuser"])
            Callback.objects.create(
                case=case, due_at=timezone.now() + datetime.timedelta(days=1), set_by=self.users["superuser"]
            )

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
        if label == "legal.legalcase":
            return self.legal_cases[reach]
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
        if name.startswith("collection:"):  # the workspace's pages of a case, and of its contact
            for reach in ("own", "other"):
                case = desk.own_case if reach == "own" else desk.other_case
                arguments = {"pk": case.pk}
                if "contact_pk" in parameters:
                    arguments["contact_pk"] = case.loan.borrower.contacts.order_by("pk").first().pk
                yield f"{name}[{reach}]", reverse(name, kwargs=arguments)
                if name not in WORKSPACE_PAGES:
                    yield f"{name}[{reach}] POST", reverse(name, kwargs=arguments)
            continue
        if name.startswith("legal_documents:"):  # a legal case's documents, and one to download
            for reach in ("own", "other"):
                if "legal_case_pk" in parameters:
                    arguments = {"legal_case_pk": desk.legal_cases[reach].pk}
                else:
                    arguments = {"pk": desk.legal_documents[reach].pk}
                yield f"{name}[{reach}]", reverse(name, kwargs=arguments)
                if name in ("legal_documents:upload", "legal_documents:letter"):
                    yield f"{name}[{reach}] POST", reverse(name, kwargs=arguments)
            continue
        if name.startswith("legal:"):  # a legal case's page, and its actions (the lawyer's letter)
            for reach in ("own", "other"):
                arguments = {"pk": desk.legal_cases[reach].pk}
                if "action" in parameters:
                    arguments["action"] = "letter"
                yield f"{name}[{reach}]", reverse(name, kwargs=arguments)
                if "action" in parameters:
                    yield f"{name}[{reach}] POST", reverse(name, kwargs=arguments)
            continue
        model = OTHER_ADMIN_URLS.get(name) or next(
            (m for prefix, m in models_by_admin_prefix.items() if name.startswith(prefix)), None
        )
        if model is None or parameters not in (["object_id"], ["id"]):
            raise AssertionError(f"{name}: the URL matrix does not know how to fill {parameters}; teach _requests")
        reaches = ("own", "other") if model._meta.label_lower in (*CASE_PATH, "legal.legalcase") else ("any",)
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
    return {
        key: tuple(
            _answer(clients[role].post(url, {}) if key.endswith(" POST") else clients[role].get(url)) for role in ROLES
        )
        for key, url in _requests(desk)
    }


# anonymous, collector, supervisor, legal_officer, admin, superuser
EXPECTED: dict[str, str] = {
    "admin:accounts_team_add": "login login denied login ok ok",
    "admin:accounts_team_change": "login login ok login ok ok",
    "admin:accounts_team_changelist": "login login ok login ok ok",
    "admin:accounts_team_delete": "login login denied login ok ok",
    "admin:accounts_team_history": "login login ok login ok ok",
    "admin:accounts_user_add": "login login denied login ok ok",
    "admin:accounts_user_change": "login login ok login ok ok",
    "admin:accounts_user_changelist": "login login ok login ok ok",
    "admin:accounts_user_delete": "login login denied login denied ok",
    "admin:accounts_user_history": "login login ok login ok ok",
    "admin:app_list[accounts]": "login login ok login ok ok",
    "admin:app_list[auditlog]": "login login missing login ok ok",
    "admin:app_list[auth]": "login login missing login missing ok",
    "admin:app_list[axes]": "login login missing login ok ok",
    "admin:app_list[collection]": "login login ok login ok ok",
    "admin:app_list[django_celery_beat]": "login login missing login missing ok",
    "admin:app_list[legal]": "login login ok login ok ok",
    "admin:app_list[loans]": "login login ok login ok ok",
    "admin:auditlog_logentry_add": "login login denied login denied denied",
    "admin:auditlog_logentry_change": "login login denied login ok ok",
    "admin:auditlog_logentry_changelist": "login login denied login ok ok",
    "admin:auditlog_logentry_delete": "login login denied login denied denied",
    "admin:auditlog_logentry_history": "login login denied login ok ok",
    "admin:auth_group_add": "login login denied login denied ok",
    "admin:auth_group_change": "login login denied login denied ok",
    "admin:auth_group_changelist": "login login denied login denied ok",
    "admin:auth_group_delete": "login login denied login denied ok",
    "admin:auth_group_history": "login login denied login denied ok",
    "admin:auth_user_password_change": "login login denied login ok ok",
    "admin:autocomplete": "login login denied login denied denied",
    "admin:axes_accessattempt_add": "login login denied login denied denied",
    "admin:axes_accessattempt_change": "login login denied login ok ok",
    "admin:axes_accessattempt_changelist": "login login denied login ok ok",
    "admin:axes_accessattempt_delete": "login login denied login ok ok",
    "admin:axes_accessattempt_history": "login login denied login ok ok",
    "admin:axes_accessfailurelog_add": "login login denied login denied denied",
    "admin:axes_accessfailurelog_change": "login login denied login ok ok",
    "admin:axes_accessfailurelog_changelist": "login login denied login ok ok",
    "admin:axes_accessfailurelog_delete": "login login denied login denied denied",
    "admin:axes_accessfailurelog_history": "login login denied login ok ok",
    "admin:axes_accesslog_add": "login login denied login denied denied",
    "admin:axes_accesslog_change": "login login denied login ok ok",
    "admin:axes_accesslog_changelist": "login login denied login ok ok",
    "admin:axes_accesslog_delete": "login login denied login denied denied",
    "admin:axes_accesslog_history": "login login denied login ok ok",
    "admin:collection_callback_add": "login login denied login denied denied",
    "admin:collection_callback_change[other]": "login login away login ok ok",
    "admin:collection_callback_change[own]": "login login ok login ok ok",
    "admin:collection_callback_changelist": "login login ok login ok ok",
    "admin:collection_callback_delete[other]": "login login denied login denied denied",
    "admin:collection_callback_delete[own]": "login login denied login denied denied",
    "admin:collection_callback_history[other]": "login login away login ok ok",
    "admin:collection_callback_history[own]": "login login ok login ok ok",
    "admin:collection_callconsent_add": "login login denied login denied denied",
    "admin:collection_callconsent_change[other]": "login login away login ok ok",
    "admin:collection_callconsent_change[own]": "login login ok login ok ok",
    "admin:collection_callconsent_changelist": "login login ok login ok ok",
    "admin:collection_callconsent_delete[other]": "login login denied login denied denied",
    "admin:collection_callconsent_delete[own]": "login login denied login denied denied",
    "admin:collection_callconsent_history[other]": "login login away login ok ok",
    "admin:collection_callconsent_history[own]": "login login ok login ok ok",
    "admin:collection_callscript_add": "login login denied login denied denied",
    "admin:collection_callscript_change": "login login ok login ok ok",
    "admin:collection_callscript_changelist": "login login ok login ok ok",
    "admin:collection_callscript_delete": "login login denied login denied denied",
    "admin:collection_callscript_history": "login login ok login ok ok",
    "admin:collection_caseassignment_add": "login login denied login denied denied",
    "admin:collection_caseassignment_change[other]": "login login denied login denied ok",
    "admin:collection_caseassignment_change[own]": "login login denied login denied ok",
    "admin:collection_caseassignment_changelist": "login login denied login denied ok",
    "admin:collection_caseassignment_delete[other]": "login login denied login denied denied",
    "admin:collection_caseassignment_delete[own]": "login login denied login denied denied",
    "admin:collection_caseassignment_history[other]": "login login away login denied ok",
    "admin:collection_caseassignment_history[own]": "login login denied login denied ok",
    "admin:collection_casenote_add": "login login denied login denied denied",
    "admin:collection_casenote_change[other]": "login login away login ok ok",
    "admin:collection_casenote_change[own]": "login login ok login ok ok",
    "admin:collection_casenote_changelist": "login login ok login ok ok",
    "admin:collection_casenote_delete[other]": "login login denied login denied denied",
    "admin:collection_casenote_delete[own]": "login login denied login denied denied",
    "admin:collection_casenote_history[other]": "login login away login ok ok",
    "admin:collection_casenote_history[own]": "login login ok login ok ok",
    "admin:collection_caserouting_add": "login login denied login ok ok",
    "admin:collection_caserouting_change": "login login denied login ok ok",
    "admin:collection_caserouting_changelist": "login login denied login ok ok",
    "admin:collection_caserouting_delete": "login login denied login ok ok",
    "admin:collection_caserouting_history": "login login denied login ok ok",
    "admin:collection_collectioncase_add": "login login denied login denied denied",
    "admin:collection_collectioncase_change[other]": "login login away login ok ok",
    "admin:collection_collectioncase_change[own]": "login login ok login ok ok",
    "admin:collection_collectioncase_changelist": "login login ok login ok ok",
    "admin:collection_collectioncase_delete[other]": "login login denied login denied denied",
    "admin:collection_collectioncase_delete[own]": "login login denied login denied denied",
    "admin:collection_collectioncase_history[other]": "login login away login ok ok",
    "admin:collection_collectioncase_history[own]": "login login ok login ok ok",
    # The reassignment page (issue 12, admin configuration): those who may assign cases.
    "admin:collection_collectioncase_reassign": "login login ok login ok ok",
    "admin:collection_conductpolicy_add": "login login denied login denied denied",
    "admin:collection_conductpolicy_change": "login login ok login ok ok",
    "admin:collection_conductpolicy_changelist": "login login ok login ok ok",
    "admin:collection_conductpolicy_delete": "login login denied login denied denied",
    "admin:collection_conductpolicy_history": "login login ok login ok ok",
    "admin:collection_conductrefusal_add": "login login denied login denied denied",
    "admin:collection_conductrefusal_change[other]": "login login away login ok ok",
    "admin:collection_conductrefusal_change[own]": "login login ok login ok ok",
    "admin:collection_conductrefusal_changelist": "login login ok login ok ok",
    "admin:collection_conductrefusal_delete[other]": "login login denied login denied denied",
    "admin:collection_conductrefusal_delete[own]": "login login denied login denied denied",
    "admin:collection_conductrefusal_history[other]": "login login away login ok ok",
    "admin:collection_conductrefusal_history[own]": "login login ok login ok ok",
    "admin:collection_contactattempt_add": "login login denied login denied denied",
    "admin:collection_contactattempt_change[other]": "login login away login ok ok",
    "admin:collection_contactattempt_change[own]": "login login ok login ok ok",
    "admin:collection_contactattempt_changelist": "login login ok login ok ok",
    "admin:collection_contactattempt_delete[other]": "login login denied login denied denied",
    "admin:collection_contactattempt_delete[own]": "login login denied login denied denied",
    "admin:collection_contactattempt_history[other]": "login login away login ok ok",
    "admin:collection_contactattempt_history[own]": "login login ok login ok ok",
    "admin:collection_escalationrequest_add": "login login denied login denied denied",
    "admin:collection_escalationrequest_change[other]": "login login away login ok ok",
    "admin:collection_escalationrequest_change[own]": "login login ok login ok ok",
    "admin:collection_escalationrequest_changelist": "login login ok login ok ok",
    "admin:collection_escalationrequest_delete[other]": "login login denied login denied denied",
    "admin:collection_escalationrequest_delete[own]": "login login denied login denied denied",
    "admin:collection_escalationrequest_history[other]": "login login away login ok ok",
    "admin:collection_escalationrequest_history[own]": "login login ok login ok ok",
    "admin:collection_jobrun_add": "login login denied login denied denied",
    "admin:collection_jobrun_change": "login login ok login ok ok",
    "admin:collection_jobrun_changelist": "login login ok login ok ok",
    "admin:collection_jobrun_delete": "login login denied login denied denied",
    "admin:collection_jobrun_history": "login login ok login ok ok",
    "admin:collection_outboundmessage_add": "login login denied login denied denied",
    "admin:collection_outboundmessage_change[other]": "login login away login ok ok",
    "admin:collection_outboundmessage_change[own]": "login login ok login ok ok",
    "admin:collection_outboundmessage_changelist": "login login ok login ok ok",
    "admin:collection_outboundmessage_delete[other]": "login login denied login denied denied",
    "admin:collection_outboundmessage_delete[own]": "login login denied login denied denied",
    "admin:collection_outboundmessage_history[other]": "login login away login ok ok",
    "admin:collection_outboundmessage_history[own]": "login login ok login ok ok",
    "admin:collection_planinstallment_add": "login login denied login denied denied",
    "admin:collection_planinstallment_change[other]": "login login away login ok ok",
    "admin:collection_planinstallment_change[own]": "login login ok login ok ok",
    "admin:collection_planinstallment_changelist": "login login ok login ok ok",
    "admin:collection_planinstallment_delete[other]": "login login denied login denied denied",
    "admin:collection_planinstallment_delete[own]": "login login denied login denied denied",
    "admin:collection_planinstallment_history[other]": "login login away login ok ok",
    "admin:collection_planinstallment_history[own]": "login login ok login ok ok",
    "admin:collection_promisetopay_add": "login login denied login denied denied",
    "admin:collection_promisetopay_change[other]": "login login away login ok ok",
    "admin:collection_promisetopay_change[own]": "login login ok login ok ok",
    "admin:collection_promisetopay_changelist": "login login ok login ok ok",
    "admin:collection_promisetopay_delete[other]": "login login denied login denied denied",
    "admin:collection_promisetopay_delete[own]": "login login denied login denied denied",
    "admin:collection_promisetopay_history[other]": "login login away login ok ok",
    "admin:collection_promisetopay_history[own]": "login login ok login ok ok",
    "admin:collection_reminderstep_add": "login login denied login ok ok",
    "admin:collection_reminderstep_change": "login login ok login ok ok",
    "admin:collection_reminderstep_changelist": "login login ok login ok ok",
    "admin:collection_reminderstep_delete": "login login denied login ok ok",
    "admin:collection_reminderstep_history": "login login ok login ok ok",
    "admin:collection_repaymentplan_add": "login login denied login denied denied",
    "admin:collection_repaymentplan_change[other]": "login login away login ok ok",
    "admin:collection_repaymentplan_change[own]": "login login ok login ok ok",
    "admin:collection_repaymentplan_changelist": "login login ok login ok ok",
    "admin:collection_repaymentplan_delete[other]": "login login denied login denied denied",
    "admin:collection_repaymentplan_delete[own]": "login login denied login denied denied",
    "admin:collection_repaymentplan_history[other]": "login login away login ok ok",
    "admin:collection_repaymentplan_history[own]": "login login ok login ok ok",
    "admin:collection_stagerule_add": "login login denied login ok ok",
    "admin:collection_stagerule_change": "login login ok login ok ok",
    "admin:collection_stagerule_changelist": "login login ok login ok ok",
    "admin:collection_stagerule_delete": "login login denied login denied ok",
    "admin:collection_stagerule_history": "login login ok login ok ok",
    "admin:django_celery_beat_clockedschedule_add": "login login denied login denied ok",
    "admin:django_celery_beat_clockedschedule_change": "login login denied login denied ok",
    "admin:django_celery_beat_clockedschedule_changelist": "login login denied login denied ok",
    "admin:django_celery_beat_clockedschedule_delete": "login login denied login denied ok",
    "admin:django_celery_beat_clockedschedule_history": "login login denied login denied ok",
    "admin:django_celery_beat_crontabschedule_add": "login login denied login denied ok",
    "admin:django_celery_beat_crontabschedule_change": "login login denied login denied ok",
    "admin:django_celery_beat_crontabschedule_changelist": "login login denied login denied ok",
    "admin:django_celery_beat_crontabschedule_delete": "login login denied login denied ok",
    "admin:django_celery_beat_crontabschedule_history": "login login denied login denied ok",
    "admin:django_celery_beat_intervalschedule_add": "login login denied login denied ok",
    "admin:django_celery_beat_intervalschedule_change": "login login denied login denied ok",
    "admin:django_celery_beat_intervalschedule_changelist": "login login denied login denied ok",
    "admin:django_celery_beat_intervalschedule_delete": "login login denied login denied ok",
    "admin:django_celery_beat_intervalschedule_history": "login login denied login denied ok",
    "admin:django_celery_beat_periodictask_add": "login login denied login denied ok",
    "admin:django_celery_beat_periodictask_change": "login login denied login denied ok",
    "admin:django_celery_beat_periodictask_changelist": "login login denied login denied ok",
    "admin:django_celery_beat_periodictask_delete": "login login denied login denied ok",
    "admin:django_celery_beat_periodictask_history": "login login denied login denied ok",
    "admin:django_celery_beat_solarschedule_add": "login login denied login denied ok",
    "admin:django_celery_beat_solarschedule_change": "login login denied login denied ok",
    "admin:django_celery_beat_solarschedule_changelist": "login login denied login denied ok",
    "admin:django_celery_beat_solarschedule_delete": "login login denied login denied ok",
    "admin:django_celery_beat_solarschedule_history": "login login denied login denied ok",
    "admin:index": "login login ok login ok ok",
    "admin:jsi18n": "login login ok login ok ok",
    "admin:legal_court_add": "login login denied login ok ok",
    "admin:legal_court_change": "login login ok login ok ok",
    "admin:legal_court_changelist": "login login ok login ok ok",
    "admin:legal_court_delete": "login login denied login ok ok",
    "admin:legal_court_history": "login login ok login ok ok",
    "admin:legal_lawfirm_add": "login login denied login ok ok",
    "admin:legal_lawfirm_change": "login login ok login ok ok",
    "admin:legal_lawfirm_changelist": "login login ok login ok ok",
    "admin:legal_lawfirm_delete": "login login denied login ok ok",
    "admin:legal_lawfirm_history": "login login ok login ok ok",
    "admin:legal_legalcase_add": "login login denied login denied denied",
    "admin:legal_legalcase_change[other]": "login login away login ok ok",
    "admin:legal_legalcase_change[own]": "login login ok login ok ok",
    "admin:legal_legalcase_changelist": "login login ok login ok ok",
    "admin:legal_legalcase_delete[other]": "login login denied login denied denied",
    "admin:legal_legalcase_delete[own]": "login login denied login denied denied",
    "admin:legal_legalcase_history[other]": "login login away login ok ok",
    "admin:legal_legalcase_history[own]": "login login ok login ok ok",
    "admin:legal_lettertemplate_add": "login login denied login ok ok",
    "admin:legal_lettertemplate_change": "login login denied login ok ok",
    "admin:legal_lettertemplate_changelist": "login login denied login ok ok",
    "admin:legal_lettertemplate_delete": "login login denied login ok ok",
    "admin:legal_lettertemplate_history": "login login denied login ok ok",
    "admin:loans_borrower_add": "login login denied login ok ok",
    "admin:loans_borrower_change[other]": "login login away login ok ok",
    "admin:loans_borrower_change[own]": "login login ok login ok ok",
    "admin:loans_borrower_changelist": "login login ok login ok ok",
    "admin:loans_borrower_delete[other]": "login login denied login denied denied",
    "admin:loans_borrower_delete[own]": "login login denied login denied denied",
    "admin:loans_borrower_find": "login login ok login ok ok",
    "admin:loans_borrower_history[other]": "login login away login ok ok",
    "admin:loans_borrower_history[own]": "login login ok login ok ok",
    "admin:loans_borrower_reveal[other]": "login login method login method method",
    "admin:loans_borrower_reveal[own]": "login login method login method method",
    "admin:loans_contact_add": "login login ok login ok ok",
    "admin:loans_contact_change[other]": "login login away login ok ok",
    "admin:loans_contact_change[own]": "login login ok login ok ok",
    "admin:loans_contact_changelist": "login login ok login ok ok",
    "admin:loans_contact_delete[other]": "login login denied login denied denied",
    "admin:loans_contact_delete[own]": "login login denied login denied denied",
    "admin:loans_contact_find": "login login ok login ok ok",
    "admin:loans_contact_history[other]": "login login away login ok ok",
    "admin:loans_contact_history[own]": "login login ok login ok ok",
    "admin:loans_contact_protected_change[other]": "login login away login ok ok",
    "admin:loans_contact_protected_change[own]": "login login ok login ok ok",
    "admin:loans_contact_reveal[other]": "login login method login method method",
    "admin:loans_contact_reveal[own]": "login login method login method method",
    "admin:loans_delinquencybucket_add": "login login denied login ok ok",
    "admin:loans_delinquencybucket_change": "login login ok login ok ok",
    "admin:loans_delinquencybucket_changelist": "login login ok login ok ok",
    "admin:loans_delinquencybucket_delete": "login login denied login ok ok",
    "admin:loans_delinquencybucket_history": "login login ok login ok ok",
    "admin:loans_importrun_add": "login login denied login denied denied",
    "admin:loans_importrun_change": "login login denied login ok ok",
    "admin:loans_importrun_changelist": "login login denied login ok ok",
    "admin:loans_importrun_delete": "login login denied login denied denied",
    "admin:loans_importrun_history": "login login denied login ok ok",
    "admin:loans_installment_add": "login login denied login denied denied",
    "admin:loans_installment_change[other]": "login login away login ok ok",
    "admin:loans_installment_change[own]": "login login ok login ok ok",
    "admin:loans_installment_changelist": "login login ok login ok ok",
    "admin:loans_installment_delete[other]": "login login denied login denied denied",
    "admin:loans_installment_delete[own]": "login login denied login denied denied",
    "admin:loans_installment_history[other]": "login login away login ok ok",
    "admin:loans_installment_history[own]": "login login ok login ok ok",
    "admin:loans_loan_add": "login login denied login ok ok",
    "admin:loans_loan_change[other]": "login login away login ok ok",
    "admin:loans_loan_change[own]": "login login ok login ok ok",
    "admin:loans_loan_changelist": "login login ok login ok ok",
    "admin:loans_loan_delete[other]": "login login denied login denied denied",
    "admin:loans_loan_delete[own]": "login login denied login denied denied",
    "admin:loans_loan_history[other]": "login login away login ok ok",
    "admin:loans_loan_history[own]": "login login ok login ok ok",
    "admin:loans_loan_import_portfolio": "login login denied login ok ok",
    "admin:loans_payment_add": "login login denied login denied denied",
    "admin:loans_payment_change[other]": "login login away login ok ok",
    "admin:loans_payment_change[own]": "login login ok login ok ok",
    "admin:loans_payment_changelist": "login login ok login ok ok",
    "admin:loans_payment_delete[other]": "login login denied login denied denied",
    "admin:loans_payment_delete[own]": "login login denied login denied denied",
    "admin:loans_payment_history[other]": "login login away login ok ok",
    "admin:loans_payment_history[own]": "login login ok login ok ok",
    "admin:loans_paymentallocation_add": "login login denied login denied denied",
    "admin:loans_paymentallocation_change[other]": "login login away login ok ok",
    "admin:loans_paymentallocation_change[own]": "login login ok login ok ok",
    "admin:loans_paymentallocation_changelist": "login login ok login ok ok",
    "admin:loans_paymentallocation_delete[other]": "login login denied login denied denied",
    "admin:loans_paymentallocation_delete[own]": "login login denied login denied denied",
    "admin:loans_paymentallocation_history[other]": "login login away login ok ok",
    "admin:loans_paymentallocation_history[own]": "login login ok login ok ok",
    "admin:loans_paymentreversal_add": "login login denied login denied denied",
    "admin:loans_paymentreversal_change[other]": "login login away login ok ok",
    "admin:loans_paymentreversal_change[own]": "login login ok login ok ok",
    "admin:loans_paymentreversal_changelist": "login login ok login ok ok",
    "admin:loans_paymentreversal_delete[other]": "login login denied login denied denied",
    "admin:loans_paymentreversal_delete[own]": "login login denied login denied denied",
    "admin:loans_paymentreversal_history[other]": "login login away login ok ok",
    "admin:loans_paymentreversal_history[own]": "login login ok login ok ok",
    "admin:loans_portfoliosnapshot_add": "login login denied login denied denied",
    "admin:loans_portfoliosnapshot_change": "login login ok login ok ok",
    "admin:loans_portfoliosnapshot_changelist": "login login ok login ok ok",
    "admin:loans_portfoliosnapshot_delete": "login login denied login denied denied",
    "admin:loans_portfoliosnapshot_history": "login login ok login ok ok",
    "admin:loans_product_add": "login login denied login ok ok",
    "admin:loans_product_change": "login login ok login ok ok",
    "admin:loans_product_changelist": "login login ok login ok ok",
    "admin:loans_product_delete": "login login denied login ok ok",
    "admin:loans_product_history": "login login ok login ok ok",
    "admin:login": "ok ok away ok away away",
    "admin:logout": "away away method away method method",
    "admin:password_change": "login login ok login ok ok",
    "admin:password_change_done": "login login ok login ok ok",
    "admin:view_on_site[other]": "login login missing login missing missing",
    "admin:view_on_site[own]": "login login missing login missing missing",
    "collection:attempt_log[other]": "method method method method method method",
    "collection:attempt_log[other] POST": "login missing missing missing invalid invalid",
    "collection:attempt_log[own]": "method method method method method method",
    "collection:attempt_log[own] POST": "login invalid invalid missing invalid invalid",
    "collection:case[other]": "login missing missing missing ok ok",
    "collection:case[own]": "login ok ok missing ok ok",
    "collection:case_timeline[other]": "login missing missing missing ok ok",
    "collection:case_timeline[own]": "login ok ok missing ok ok",
    "collection:consent_record[other]": "method method method method method method",
    "collection:consent_record[other] POST": "login missing missing missing invalid invalid",
    "collection:consent_record[own]": "method method method method method method",
    "collection:consent_record[own] POST": "login invalid invalid missing invalid invalid",
    "collection:contact_add[other]": "method method method method method method",
    "collection:contact_add[other] POST": "login missing missing missing invalid invalid",
    "collection:contact_add[own]": "method method method method method method",
    "collection:contact_add[own] POST": "login invalid invalid missing invalid invalid",
    "collection:contact_mark[other]": "method method method method method method",
    "collection:contact_mark[other] POST": "login missing missing missing invalid invalid",
    "collection:contact_mark[own]": "method method method method method method",
    "collection:contact_mark[own] POST": "login invalid invalid missing invalid invalid",
    "collection:escalation_request[other]": "method method method method method method",
    "collection:escalation_request[other] POST": "login missing missing missing invalid invalid",
    "collection:escalation_request[own]": "method method method method method method",
    "collection:escalation_request[own] POST": "login invalid invalid missing invalid invalid",
    "collection:hold[other]": "method method method method method method",
    "collection:hold[other] POST": "login missing missing missing invalid invalid",
    "collection:hold[own]": "method method method method method method",
    "collection:hold[own] POST": "login invalid invalid missing invalid invalid",
    "collection:lost_contact[other]": "method method method method method method",
    "collection:lost_contact[other] POST": "login missing missing missing invalid invalid",
    "collection:lost_contact[own]": "method method method method method method",
    "collection:lost_contact[own] POST": "login invalid invalid missing invalid invalid",
    "collection:next_case": "login away denied denied denied denied",
    "collection:note_add[other]": "method method method method method method",
    "collection:note_add[other] POST": "login missing missing missing invalid invalid",
    "collection:note_add[own]": "method method method method method method",
    "collection:note_add[own] POST": "login invalid invalid missing invalid invalid",
    "collection:plan_propose[other]": "method method method method method method",
    "collection:plan_propose[other] POST": "login missing missing missing invalid invalid",
    "collection:plan_propose[own]": "method method method method method method",
    "collection:plan_propose[own] POST": "login invalid invalid missing invalid invalid",
    "collection:promise_take[other]": "method method method method method method",
    "collection:promise_take[other] POST": "login missing missing missing invalid invalid",
    "collection:promise_take[own]": "method method method method method method",
    "collection:promise_take[own] POST": "login invalid invalid missing invalid invalid",
    "collection:queue": "login ok denied denied denied denied",
    "collection:resume[other]": "method method method method method method",
    "collection:resume[other] POST": "login missing missing missing invalid invalid",
    "collection:resume[own]": "method method method method method method",
    "collection:resume[own] POST": "login invalid invalid missing invalid invalid",
    "dashboard:index": "login missing ok missing ok ok",
    "healthz": "ok ok ok ok ok ok",
    "home": "login away away away away away",
    "legal:act[other]": "method method method method method method",
    "legal_documents:download[other]": "login missing missing ok ok ok",
    "legal_documents:download[own]": "login missing ok ok ok ok",
    "legal_documents:letter[other]": "login method method method method method",
    "legal_documents:letter[other] POST": "login missing missing invalid invalid invalid",
    "legal_documents:letter[own]": "login method method method method method",
    "legal_documents:letter[own] POST": "login missing invalid invalid invalid invalid",
    "legal_documents:list[other]": "login missing missing ok ok ok",
    "legal_documents:list[own]": "login missing ok ok ok ok",
    "legal_documents:upload[other]": "login method method method method method",
    "legal_documents:upload[other] POST": "login missing missing invalid invalid invalid",
    "legal_documents:upload[own]": "login method method method method method",
    "legal_documents:upload[own] POST": "login missing invalid invalid invalid invalid",
    "legal:act[other] POST": "login missing missing invalid invalid invalid",
    "legal:act[own]": "method method method method method method",
    "legal:act[own] POST": "login missing denied invalid invalid invalid",
    "legal:case[other]": "login missing missing ok ok ok",
    "legal:case[own]": "login missing ok ok ok ok",
    "legal:portfolio": "login missing ok missing ok ok",
    "legal:queue": "login missing ok ok ok ok",
    "login": "ok away away away away away",
    "logout": "method method method method method method",
    "password_change": "login ok ok ok ok ok",
    "password_change_done": "login ok ok ok ok ok",
    "portfolio": "login ok ok ok ok ok",
    "set_language": "away away away away away away",
    "supervision:escalation_decide": "method method method method method method",
    "supervision:escalations": "login missing ok missing ok ok",
    "supervision:escalations_bulk": "method method method method method method",
    "supervision:plan_decide": "method method method method method method",
    "supervision:plans": "login missing ok missing ok ok",
    "supervision:team": "login missing ok missing ok ok",
    "supervision:team_cases": "login missing ok missing ok ok",
    "supervision:team_reassign": "method method method method method method",
}


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
