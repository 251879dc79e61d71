"""The legal case machine: the states a legal case walks through the courts (docs/legal-machine.md
draws it and says who may run each transition), on the desk's shared machinery (collection.fsm:
transitions logged with actor and reason, permissions, conditions, stale copies refused).

From `preparing` the desk may send a lawyer's letter, try pre-litigation mediation, apply for a
payment order or sue; each later step may be skipped forward (a letter is not required before
suing, nor mediation). A payment order that meets an objection goes on to a suit; one that is
served and not objected to within its period is enforceable, as is a judicially confirmed
mediated agreement and a judgment that took effect. Enforcement may be ended for the current
round (终结本次执行) when no assets are found and resumed when some appear. Any active case may
be settled or withdrawn (withdrawal needs a supervisor), and ends `closed` with its outcome."""

import datetime
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField

from collection.fsm import Condition, Machine, logged_transition

__all__ = ["ACTIVE_STATES", "LEGAL_MACHINE", "LegalMachine", "LegalState", "Outcome"]


class LegalState(models.TextChoices):
    PREPARING = "preparing", _("Preparing")
    LETTER_SENT = "letter_sent", _("Lawyer's letter sent")
    MEDIATION = "mediation", _("Mediation")
    PAYMENT_ORDER = "payment_order", _("Payment order")
    FILED = "filed", _("Suit filed")
    IN_HEARING = "in_hearing", _("In hearing")
    JUDGMENT = "judgment", _("Judgment")
    ENFORCEMENT = "enforcement", _("Enforcement")
    ENFORCEMENT_SUSPENDED = "enforcement_suspended", _("Enforcement ended for now")
    CLOSED = "closed", _("Closed")


ACTIVE_STATES = [state for state in LegalState.values if state != LegalState.CLOSED]


class Outcome(models.TextChoices):
    PAID = "paid", _("Paid")
    SETTLED = "settled", _("Settled")
    UNCOLLECTIBLE = "uncollectible", _("Uncollectible")
    WITHDRAWN = "withdrawn", _("Withdrawn")


def state_entry_fields(target: str, at: datetime.datetime) -> dict:
    fields = {"state_entered_at": at}
    if target == LegalState.CLOSED:
        fields["closed_at"] = at
    return fields


# --- conditions ----------------------------------------------------------------------------------


def _related(name: str, condition: Q):
    """A condition on the legal case's records of one kind, for one case and for a set."""

    def test(legal_case) -> bool:
        return getattr(legal_case, name).filter(condition).exists()

    def filter_(cases: type) -> Q:
        related = cases._meta.get_field(name).related_model
        return Q(Exists(related.objects.filter(condition, legal_case=OuterRef("pk"))))

    return test, filter_


def _condition(name: str, records: str, condition: Q, unmet) -> Condition:
    test, filter_ = _related(records, condition)
    return Condition(name, test=test, filter=filter_, unmet=unmet)


PAYMENT_ORDER_OBJECTED = _condition(
    "payment_order_objected",
    "payment_orders",
    Q(objected_on__isnull=False),
    _("the borrower has not objected to the payment order"),
)
PAYMENT_ORDER_ENFORCEABLE = Condition(
    "payment_order_enforceable",
    # Served, not objected to, and its objection period over.
    test=lambda legal_case: legal_case.payment_orders.filter(
        objected_on__isnull=True, objection_deadline__lt=timezone.localdate()
    ).exists(),
    filter=lambda cases: Q(
        Exists(
            cases._meta.get_field("payment_orders")
            .related_model.objects.filter(objected_on__isnull=True, objection_deadline__lt=timezone.localdate())
            .filter(legal_case=OuterRef("pk"))
        )
    ),
    unmet=_("the payment order is not enforceable yet: not served, objected to, or its objection period still runs"),
)
MEDIATION_CONFIRMED = _condition(
    "mediation_confirmed",
    "mediations",
    Q(confirmed_on__isnull=False),
    _("no mediated agreement has been judicially confirmed"),
)
JUDGMENT_IN_EFFECT = Condition(
    "judgment_in_effect",
    test=lambda legal_case: legal_case.judgments.filter(effective_on__lte=timezone.localdate()).exists(),
    filter=lambda cases: Q(
        Exists(
            cases._meta.get_field("judgments")
            .related_model.objects.filter(effective_on__lte=timezone.localdate())
            .filter(legal_case=OuterRef("pk"))
        )
    ),
    unmet=_("no judgment has taken effect"),
)


def legal_transition(*, source, target, action: str, permission: str = "legal.work_legal_case", conditions=()):
    return logged_transition(
        field="state", source=source, target=target, permission=permission, action=action, conditions=conditions
    )


BEFORE_SUIT = [LegalState.PREPARING, LegalState.LETTER_SENT, LegalState.MEDIATION]


class LegalMachine(ConcurrentTransitionMixin, models.Model):
    """The state of a legal case and what its transitions write (fields only; the services save
    in a transaction, and the save loses to anyone who moved the case first)."""

    state = FSMField(
        _("state"), default=LegalState.PREPARING, choices=LegalState.choices, protected=True, max_length=24
    )
    state_entered_at = models.DateTimeField(_("state entered at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.state != LegalState.CLOSED

    def _enter(self, target: str) -> None:
        for field, value in state_entry_fields(target, timezone.now()).items():
            setattr(self, field, value)

    @legal_transition(source=LegalState.PREPARING, target=LegalState.LETTER_SENT, action=_("send a lawyer's letter"))
    def send_letter(self, by=None, description=None):
        self._enter(LegalState.LETTER_SENT)

    @legal_transition(
        source=[LegalState.PREPARING, LegalState.LETTER_SENT],
        target=LegalState.MEDIATION,
        action=_("start pre-litigation mediation"),
    )
    def mediate(self, by=None, description=None):
        self._enter(LegalState.MEDIATION)

    @legal_transition(source=BEFORE_SUIT, target=LegalState.PAYMENT_ORDER, action=_("apply for a payment order"))
    def apply_payment_order(self, by=None, description=None):
        self._enter(LegalState.PAYMENT_ORDER)

    @legal_transition(source=BEFORE_SUIT, target=LegalState.FILED, action=_("file the suit"))
    def file_suit(self, by=None, description=None):
        self._enter(LegalState.FILED)

    @legal_transition(
        source=LegalState.PAYMENT_ORDER,
        target=LegalState.FILED,
        action=_("sue after the objection"),
        conditions=[PAYMENT_ORDER_OBJECTED],
    )
    def sue_after_objection(self, by=None, description=None):
        self._enter(LegalState.FILED)

    @legal_transition(source=LegalState.FILED, target=LegalState.IN_HEARING, action=_("schedule the hearing"))
    def hear(self, by=None, description=None):
        self._enter(LegalState.IN_HEARING)

    @legal_transition(source=LegalState.IN_HEARING, target=LegalState.JUDGMENT, action=_("record the judgment"))
    def rule(self, by=None, description=None):
        self._enter(LegalState.JUDGMENT)

    @legal_transition(
        source=LegalState.JUDGMENT,
        target=LegalState.ENFORCEMENT,
        action=_("apply for enforcement of the judgment"),
        conditions=[JUDGMENT_IN_EFFECT],
    )
    def enforce_judgment(self, by=None, description=None):
        self._enter(LegalState.ENFORCEMENT)

    @legal_transition(
        source=LegalState.PAYMENT_ORDER,
        target=LegalState.ENFORCEMENT,
        action=_("apply for enforcement of the payment order"),
        conditions=[PAYMENT_ORDER_ENFORCEABLE],
    )
    def enforce_payment_order(self, by=None, description=None):
        self._enter(LegalState.ENFORCEMENT)

    @legal_transition(
        source=LegalState.MEDIATION,
        target=LegalState.ENFORCEMENT,
        action=_("apply for enforcement of the confirmed agreement"),
        conditions=[MEDIATION_CONFIRMED],
    )
    def enforce_agreement(self, by=None, description=None):
        self._enter(LegalState.ENFORCEMENT)

    @legal_transition(
        source=LegalState.ENFORCEMENT,
        target=LegalState.ENFORCEMENT_SUSPENDED,
        action=_("end the current round of enforcement"),
    )
    def suspend_enforcement(self, by=None, description=None):
        self._enter(LegalState.ENFORCEMENT_SUSPENDED)

    @legal_transition(
        source=LegalState.ENFORCEMENT_SUSPENDED, target=LegalState.ENFORCEMENT, action=_("resume enforcement")
    )
    def resume_enforcement(self, by=None, description=None):
        self._enter(LegalState.ENFORCEMENT)

    @legal_transition(source=ACTIVE_STATES, target=LegalState.CLOSED, action=_("close the legal case"))
    def close(self, outcome: str, by=None, description=None):
        if outcome not in (Outcome.PAID, Outcome.UNCOLLECTIBLE):
            raise ValueError(f"close ends a case paid or uncollectible, not {outcome!r}")
        self.outcome = outcome
        self._enter(LegalState.CLOSED)

    @legal_transition(source=ACTIVE_STATES, target=LegalState.CLOSED, action=_("settle the legal case"))
    def settle(self, by=None, description=None):
        self.outcome = Outcome.SETTLED
        self._enter(LegalState.CLOSED)

    @legal_transition(
        source=ACTIVE_STATES,
        target=LegalState.CLOSED,
        action=_("withdraw the legal case"),
        permission="legal.withdraw_legal_case",
    )
    def withdraw(self, by=None, description=None):
        self.outcome = Outcome.WITHDRAWN
        self._enter(LegalState.CLOSED)


LEGAL_MACHINE = Machine(
    model="legal.LegalCase",
    field="state",
    doc=Path(settings.BASE_DIR) / "docs" / "legal-machine.md",
    entering=state_entry_fields,
)
