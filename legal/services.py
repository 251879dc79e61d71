"""The legal track's writes. Every service checks the case is within the actor's reach
(legal.access), runs the legal machine's transition where the step moves the case (LEGAL_MACHINE:
permission, conditions, stale copies refused) and keeps the step's record, in one transaction.
What a step means for the debt is kept too: a demand, a suit or an application to a court restarts
the debt's limitation period (LimitationEvent), a court's fee is entered in the costs ledger as the
fee schedule computes it (legal.fees), and money received in enforcement is recorded on the loan
through loans.services.payment_record, so the collection case and the loan stay true."""

import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_actor, audit_change
from collection.exceptions import CollectionError, StaleCase
from collection.models import CollectionCase
from config.desk import desk_day_start
from loans.models import ZERO, Loan, Payment
from loans.services import payment_record

from .access import legal_case_access_check
from .deadlines import frozen_assets_in_force
from .fees import Procedure, enforcement_fee, litigation_fee
from .machine import LEGAL_MACHINE, LegalState, Outcome
from .models import (
    Court,
    Enforcement,
    EnforcementReceipt,
    Filing,
    FrozenAsset,
    Hearing,
    Judgment,
    LawFirm,
    LawyerLetter,
    LegalCase,
    LegalCost,
    LimitationEvent,
    Mediation,
    PaymentOrder,
)

__all__ = [
    "ENFORCEMENT_SOURCE",
    "asset_freeze",
    "cost_record",
    "enforcement_apply",
    "enforcement_receipt_record",
    "enforcement_resume",
    "enforcement_suspend",
    "frozen_asset_release",
    "frozen_asset_renew",
    "hearing_record",
    "hearing_reschedule",
    "hearing_result",
    "judgment_record",
    "claim_of",
    "judgment_update",
    "legal_case_assign",
    "legal_case_close",
    "legal_case_open",
    "legal_case_settle",
    "legal_case_withdraw",
    "letter_send",
    "letter_update",
    "limitation_event_record",
    "mediation_start",
    "mediation_update",
    "payment_order_apply",
    "payment_order_update",
    "suit_file",
]

# The source of the payments enforcement brings in (Payment.source).
ENFORCEMENT_SOURCE = "court_enforcement"


def _locked(legal_case: LegalCase, by) -> LegalCase:
    """The legal case read again under its row lock, once within `by`'s reach and `by` may work
    legal cases at all."""
    locked = LegalCase.objects.select_for_update(of=("self",)).select_related("case").get(pk=legal_case.pk)
    legal_case_access_check(legal_case=locked, by=by)
    if locked.state != legal_case.state:
        raise StaleCase()
    return locked


def _work_check(by) -> None:
    if not by.has_perm("legal.work_legal_case"):
        raise PermissionDenied(_("You may not work legal cases."))


def _move(legal_case: LegalCase, name: str, *, by, reason: str = "", **kwargs) -> LegalCase:
    return LEGAL_MACHINE.run(legal_case, name, by=by, reason=reason, **kwargs)


def _limitation_restart(legal_case: LegalCase, *, kind: str, on: datetime.date, by, evidence: str = "") -> None:
    LimitationEvent.objects.create(legal_case=legal_case, kind=kind, occurred_on=on, evidence=evidence, recorded_by=by)
    if on > legal_case.limitation_from:
        # Three years from `on`: no longer close to its end, so no longer flagged (legal.limitation).
        legal_case.limitation_from = on
        legal_case.limitation_flagged_on = None
        legal_case.save(update_fields=["limitation_from", "limitation_flagged_on"])


def _not_after_today(day: datetime.date, what: str, *, field: str = "") -> None:
    if day > timezone.localdate():
        raise _refusal(_("%(what)s cannot be a day still to come.") % {"what": what}, code="future", field=field)


def _refusal(message: str, *, code: str, field: str = "") -> ValidationError:
    """A refusal in words, on `field` when the page's form has one of that name (the service's
    keyword), so that it is shown beside what was typed."""
    error = ValidationError(message, code=code)
    return ValidationError({field: error}) if field else error


# --- opening ---------------------------------------------------------------------------------------


def legal_case_open(*, case: CollectionCase, by, reason: str = "") -> LegalCase:
    """Open the legal case of a collection case entering litigation (the receiver of collection's
    case_entered_litigation, in its transaction). A collection case has one legal case: sent to
    litigation again, it keeps the one it has. The debt's limitation period runs from the oldest
    unpaid due date (when the desk knew it was unpaid), or the day the case opened."""
    existing = LegalCase.objects.filter(case=case).first()
    if existing is not None:
        return existing
    unpaid_since, case_opened = (
        CollectionCase.objects.filter(pk=case.pk).values_list("loan__oldest_unpaid_due_on", "opened_at").get()
    )
    return LegalCase.objects.create(
        case=case,
        opened_at=timezone.now(),
        limitation_from=unpaid_since or timezone.localtime(case_opened).date(),
    )


# --- the steps ---------------------------------------------------------------------------------------


@transaction.atomic
def letter_send(
    *,
    legal_case: LegalCase,
    by,
    number: str,
    firm: LawFirm,
    sent_on: datetime.date,
    tracking_number: str = "",
    reason: str = "",
) -> LawyerLetter:
    """The lawyer's letter is sent (a demand: the limitation period starts again)."""
    _work_check(by)
    _not_after_today(sent_on, _("The day the letter was sent"))
    legal_case = _locked(legal_case, by)
    _move(legal_case, "send_letter", by=by, reason=reason)
    if legal_case.firm_id is None:
        legal_case.firm = firm
        legal_case.save(update_fields=["firm"])
    letter = LawyerLetter.objects.create(
        legal_case=legal_case,
        number=number,
        firm=firm,
        sent_on=sent_on,
        tracking_number=tracking_number,
        recorded_by=by,
    )
    _limitation_restart(legal_case, kind=LimitationEvent.Kind.DEMAND, on=sent_on, by=by, evidence=number)
    return letter


@transaction.atomic
def letter_update(*, letter: LawyerLetter, by, delivered_on: datetime.date) -> LawyerLetter:
    """The letter was delivered (the proof of delivery is kept with the case)."""
    _work_check(by)
    _not_after_today(delivered_on, _("The day of delivery"))
    legal_case = _locked(letter.legal_case, by)
    letter = LawyerLetter.objects.select_for_update().get(pk=letter.pk, legal_case=legal_case)
    if delivered_on < letter.sent_on:
        raise ValidationError(
            _("A letter is delivered after it was sent, on %(day)s.") % {"day": letter.sent_on}, code="delivered_on"
        )
    letter.delivered_on = delivered_on
    letter.save()
    return letter


@transaction.atomic
def mediation_start(
    *, legal_case: LegalCase, by, mediator: str, started_on: datetime.date, reason: str = ""
) -> Mediation:
    _work_check(by)
    _not_after_today(started_on, _("The day mediation started"))
    legal_case = _locked(legal_case, by)
    _move(legal_case, "mediate", by=by, reason=reason)
    return Mediation.objects.create(legal_case=legal_case, mediator=mediator, started_on=started_on, recorded_by=by)


@transaction.atomic
def mediation_update(*, mediation: Mediation, by, **fields) -> Mediation:
    """Record the agreement (agreed_on, agreed_amount) or its judicial confirmation
    (confirmation_ruling, confirmed_on, within 30 days of the agreement)."""
    _work_check(by)
    legal_case = _locked(mediation.legal_case, by)
    mediation = Mediation.objects.select_for_update().get(pk=mediation.pk, legal_case=legal_case)
    for field, value in fields.items():
        setattr(mediation, field, value)
    if mediation.confirmed_on and not mediation.agreed_on:
        raise ValidationError(_("Only an agreement can be confirmed: record the agreement first."), code="agreement")
    if mediation.confirmed_on and mediation.confirmed_on > mediation.confirmation_deadline:
        raise ValidationError(
            _("A mediated agreement is confirmed within 30 days of it: by %(day)s.")
            % {"day": mediation.confirmation_deadline},
            code="confirmation_deadline",
        )
    mediation.full_clean(exclude=["legal_case", "recorded_by"])
    mediation.save()
    return mediation


@transaction.atomic
def payment_order_apply(
    *, legal_case: LegalCase, by, court: Court, applied_on: datetime.date, reason: str = ""
) -> PaymentOrder:
    """Apply for a payment order (an application to a court: the limitation period starts again);
    its fee, a third of the filing fee on the claim, enters the ledger."""
    _work_check(by)
    _not_after_today(applied_on, _("The day of the application"))
    legal_case = _locked(legal_case, by)
    _move(legal_case, "apply_payment_order", by=by, reason=reason)
    order = PaymentOrder.objects.create(legal_case=legal_case, court=court, applied_on=applied_on, recorded_by=by)
    claim = claim_of(legal_case, applied_on)
    _court_fee(legal_case, by=by, amount=litigation_fee(claim.total, Procedure.PAYMENT_ORDER), on=applied_on)
    _limitation_restart(legal_case, kind=LimitationEvent.Kind.SUIT, on=applied_on, by=by)
    return order


@transaction.atomic
def payment_order_update(
    *, order: PaymentOrder, by, served_on: datetime.date | None = None, objected_on: datetime.date | None = None
) -> PaymentOrder:
    """The order served on the debtor (its objection period starts), or the debtor's objection."""
    _work_check(by)
    legal_case = _locked(order.legal_case, by)
    order = PaymentOrder.objects.select_for_update().get(pk=order.pk, legal_case=legal_case)
    if served_on is not None:
        _not_after_today(served_on, _("The day of service"))
        order.served_on = served_on
    if objected_on is not None:
        if order.served_on is None:
            raise ValidationError(_("An objection follows service: record the day of service first."), code="served")
        if objected_on > order.served_on + datetime.timedelta(days=PaymentOrder.OBJECTION_DAYS):
            raise ValidationError(_("The objection came after its 15 days: the order stands."), code="late_objection")
        order.objected_on = objected_on
    order.save()
    return order


def claim_of(legal_case: LegalCase, day: datetime.date):
    """What a suit claims as of `day` (legal.claims): the loan's items, and as costs those of the
    ledger borne by the borrower up to that day."""
    from .claims import claim_as_of

    costs = legal_case.costs.filter(borne_by=LegalCost.BorneBy.BORROWER, incurred_on__lte=day).aggregate(
        total=Sum("amount")
    )["total"]
    return claim_as_of(loan=legal_case.case.loan, day=day, costs=costs or ZERO)


def _court_fee(legal_case: LegalCase, *, by, amount: Decimal, on: datetime.date, kind=LegalCost.Kind.COURT_FEE):
    return LegalCost.objects.create(
        legal_case=legal_case,
        kind=kind,
        amount=amount,
        incurred_on=on,
        borne_by=LegalCost.BorneBy.BORROWER,
        note=_("Computed by the court fee schedule"),
        recorded_by=by,
    )


@transaction.atomic
def suit_file(
    *,
    legal_case: LegalCase,
    by,
    court: Court,
    docket_number: str,
    filed_on: datetime.date,
    procedure: str = Procedure.SIMPLIFIED,
    judge: str = "",
    clerk: str = "",
    reason: str = "",
) -> Filing:
    """The suit is filed (立案): after a payment order met an objection, or straight from the
    steps before a suit. The claim is computed as of the filing day, itemised to the cent; the
    filing fee for the procedure enters the ledger (borne by the borrower if the desk wins); the
    limitation period starts again."""
    _work_check(by)
    _not_after_today(filed_on, _("The filing day"))
    if procedure not in Procedure.values or procedure == Procedure.PAYMENT_ORDER:
        raise ValidationError(_("A suit is heard in ordinary or simplified procedure."), code="procedure")
    legal_case = _locked(legal_case, by)
    name = "sue_after_objection" if legal_case.state == LegalState.PAYMENT_ORDER else "file_suit"
    _move(legal_case, name, by=by, reason=reason)
    claim = claim_of(legal_case, filed_on)
    filing = Filing.objects.create(
        legal_case=legal_case,
        court=court,
        docket_number=docket_number,
        filed_on=filed_on,
        procedure=procedure,
        judge=judge,
        clerk=clerk,
        claimed_principal=claim.principal,
        claimed_interest=claim.interest,
        claimed_fees=claim.fees,
        claimed_penalty=claim.penalty,
        claimed_costs=claim.costs,
        claimed_amount=claim.total,
        recorded_by=by,
    )
    _court_fee(legal_case, by=by, amount=litigation_fee(claim.total, procedure), on=filed_on)
    _limitation_restart(legal_case, kind=LimitationEvent.Kind.SUIT, on=filed_on, by=by, evidence=docket_number)
    return filing


@transaction.atomic
def hearing_record(
    *, legal_case: LegalCase, by, held_at: datetime.datetime, place: str, result: str = "", reason: str = ""
) -> Hearing:
    """A hearing scheduled (the first moves a filed case into hearing) or held (its result)."""
    _work_check(by)
    legal_case = _locked(legal_case, by)
    if legal_case.state == LegalState.FILED:
        _move(legal_case, "hear", by=by, reason=reason)
    elif legal_case.state != LegalState.IN_HEARING:
        raise CollectionError(
            _("Hearings are recorded on a filed case, not in state %(state)s.")
            % {"state": LegalState(legal_case.state).label}
        )
    return Hearing.objects.create(legal_case=legal_case, held_at=held_at, place=place, result=result, recorded_by=by)


@transaction.atomic
def hearing_result(*, hearing: Hearing, by, result: str) -> Hearing:
    """What came of a hearing, once held."""
    _work_check(by)
    if not result.strip():
        raise ValidationError(_("Say what came of the hearing."), code="result")
    legal_case = _locked(hearing.legal_case, by)
    hearing = Hearing.objects.select_for_update().get(pk=hearing.pk, legal_case=legal_case)
    if hearing.held_at > timezone.now():
        raise ValidationError(_("The hearing has not been held yet."), code="held_at")
    hearing.result = result
    hearing.save()
    return hearing


@transaction.atomic
def hearing_reschedule(
    *, hearing: Hearing, by, held_at: datetime.datetime, place: str = "", reason: str = ""
) -> Hearing:
    """The court moved a hearing (postponed it, or to another room): a hearing without a result,
    while the case is in hearing, to a time still to come (one already held has its result
    recorded instead); a blank place keeps the one it had. Its deadline follows the new day
    (legal.deadlines). Recorded in the audit trail, before and after, with the reason."""
    _work_check(by)
    legal_case = _locked(hearing.legal_case, by)
    if legal_case.state != LegalState.IN_HEARING:
        raise CollectionError(
            _("Hearings are moved while the case is in hearing, not in state %(state)s.")
            % {"state": LegalState(legal_case.state).label}
        )
    hearing = Hearing.objects.select_for_update().get(pk=hearing.pk, legal_case=legal_case)
    if hearing.result:
        raise _refusal(_("This hearing was held: its result is recorded."), code="held", field="hearing")
    if held_at <= timezone.now():
        raise _refusal(
            _("A hearing is moved to a time still to come; record what came of one already held."),
            code="past",
            field="held_at",
        )
    place = place.strip() or hearing.place
    if held_at == hearing.held_at and place == hearing.place:
        raise _refusal(_("The hearing is already at that time and place."), code="unchanged", field="held_at")
    Hearing.objects.filter(pk=hearing.pk).update(held_at=held_at, place=place)
    # An UPDATE, not save(): the audit entry is written here, once, with the reason.
    audit_change(
        hearing,
        {
            "held_at": (timezone.localtime(hearing.held_at), timezone.localtime(held_at)),
            "place": (hearing.place, place),
        },
        by=by,
        reason=reason.strip(),
    )
    hearing.held_at, hearing.place = held_at, place
    return hearing


@transaction.atomic
def judgment_record(
    *,
    legal_case: LegalCase,
    by,
    ruled_on: datetime.date,
    awarded_amount: Decimal,
    costs_awarded: Decimal,
    served_on: datetime.date | None = None,
    effective_on: datetime.date | None = None,
    reason: str = "",
) -> Judgment:
    _work_check(by)
    _not_after_today(ruled_on, _("The day of the judgment"))
    if awarded_amount < 0 or costs_awarded < 0:
        raise ValidationError(_("Awarded amounts cannot be negative."), code="amount")
    legal_case = _locked(legal_case, by)
    _move(legal_case, "rule", by=by, reason=reason)
    return Judgment.objects.create(
        legal_case=legal_case,
        ruled_on=ruled_on,
        awarded_amount=awarded_amount,
        costs_awarded=costs_awarded,
        served_on=served_on,
        effective_on=effective_on,
        recorded_by=by,
    )


@transaction.atomic
def judgment_update(
    *, judgment: Judgment, by, served_on: datetime.date | None = None, effective_on: datetime.date | None = None
) -> Judgment:
    """The judgment served (its appeal period starts) or taken effect."""
    _work_check(by)
    legal_case = _locked(judgment.legal_case, by)
    judgment = Judgment.objects.select_for_update().get(pk=judgment.pk, legal_case=legal_case)
    if served_on is not None:
        judgment.served_on = served_on
    if effective_on is not None:
        judgment.effective_on = effective_on
    judgment.save()
    return judgment


_ENFORCE_FROM = {
    LegalState.JUDGMENT: "enforce_judgment",
    LegalState.PAYMENT_ORDER: "enforce_payment_order",
    LegalState.MEDIATION: "enforce_agreement",
}


@transaction.atomic
def enforcement_apply(
    *,
    legal_case: LegalCase,
    by,
    court: Court,
    applied_on: datetime.date,
    amount_applied: Decimal,
    docket_number: str = "",
    reason: str = "",
) -> Enforcement:
    """Apply for enforcement of what is enforceable: a judgment in effect, a payment order not
    objected to, a confirmed mediated agreement. The enforcement fee on the amount enters the
    ledger (borne by the borrower); the limitation period starts again."""
    _work_check(by)
    _not_after_today(applied_on, _("The day of the application"))
    if amount_applied <= 0:
        raise ValidationError(_("The amount applied for must be more than zero."), code="amount")
    legal_case = _locked(legal_case, by)
    name = _ENFORCE_FROM.get(legal_case.state, "enforce_judgment")
    _move(legal_case, name, by=by, reason=reason)
    enforcement = Enforcement.objects.create(
        legal_case=legal_case,
        court=court,
        docket_number=docket_number,
        applied_on=applied_on,
        amount_applied=amount_applied,
        recorded_by=by,
    )
    _court_fee(
        legal_case, by=by, amount=enforcement_fee(amount_applied), on=applied_on, kind=LegalCost.Kind.ENFORCEMENT_FEE
    )
    _limitation_restart(legal_case, kind=LimitationEvent.Kind.SUIT, on=applied_on, by=by, evidence=docket_number)
    return enforcement


@transaction.atomic
def enforcement_receipt_record(
    *, enforcement: Enforcement, by, received_on: datetime.date, amount: Decimal, reference: str
) -> EnforcementReceipt:
    """Money the court paid over: recorded as a payment on the loan (payment_record: allocated,
    the loan aged, refused above what is outstanding or for a reference already recorded) and as
    the enforcement's receipt. A settlement agreed on the collection case and now paid settles
    both cases."""
    _work_check(by)
    _not_after_today(received_on, _("The day the money was received"))
    legal_case = _locked(enforcement.legal_case, by)
    if legal_case.state not in (LegalState.ENFORCEMENT, LegalState.ENFORCEMENT_SUSPENDED):
        raise CollectionError(_("Money from enforcement is recorded while the case is in enforcement."))
    # Recorded the day it came in: now; a day before: at noon of that day.
    received_at = (
        timezone.now()
        if received_on == timezone.localdate()
        else desk_day_start(received_on) + datetime.timedelta(hours=12)
    )
    payment = payment_record(
        loan=legal_case.case.loan,
        amount=amount,
        received_at=received_at,
        reference=reference,
        channel=Payment.Channel.BANK_TRANSFER,
        source=ENFORCEMENT_SOURCE,
        recorded_by=by,
    )
    receipt = EnforcementReceipt.objects.create(
        legal_case=legal_case,
        enforcement=enforcement,
        received_on=received_on,
        amount=payment.amount,
        payment=payment,
        recorded_by=by,
    )
    _settle_if_paid(legal_case)
    return receipt


def _settle_both(legal_case: LegalCase, *, by, reason: str) -> LegalCase:
    """The collection case settled through its own service, by the desk's system account (the
    settlement was a supervisor's decision; closing once paid is bookkeeping), then the legal case
    closed as settled by `by`. The collection service refuses, in words, a settlement not yet
    approved or paid."""
    from collection.selectors import system_user
    from collection.services import case_settle

    reason = reason or _("The agreed settlement is paid.")
    case_settle(case=legal_case.case, by=system_user(), reason=reason)
    return _move(legal_case, "settle", by=by, reason=reason)


def _settle_if_paid(legal_case: LegalCase) -> None:
    """A settlement agreed and approved on the collection case, now paid: both cases settle, by
    the desk's system account."""
    from collection.machine import CASE_MACHINE
    from collection.selectors import system_user

    case = CollectionCase.objects.get(pk=legal_case.case_id)
    if case.is_open and CASE_MACHINE.conditions_met(case, "settle"):
        _settle_both(legal_case, by=system_user(), reason="")


@transaction.atomic
def asset_freeze(*, enforcement: Enforcement, by, kind: str, description: str, frozen_on: datetime.date) -> FrozenAsset:
    """An asset frozen (a freeze in force is renewed by frozen_asset_renew)."""
    _work_check(by)
    _not_after_today(frozen_on, _("The day of the freeze"))
    legal_case = _locked(enforcement.legal_case, by)
    if kind not in FrozenAsset.Kind.values:
        raise ValidationError(_("Unknown kind of asset %(kind)s.") % {"kind": kind}, code="kind")
    return FrozenAsset.objects.create(
        legal_case=legal_case,
        enforcement=enforcement,
        kind=kind,
        description=description,
        frozen_on=frozen_on,
        recorded_by=by,
    )


def _freeze_in_force(frozen_asset: FrozenAsset, legal_case: LegalCase) -> FrozenAsset:
    """The frozen asset read again under its row lock, once it is of `legal_case` and in force
    (legal.deadlines.frozen_assets_in_force): a released or renewed freeze is past acting on."""
    locked = FrozenAsset.objects.select_for_update().get(pk=frozen_asset.pk, legal_case=legal_case)
    if locked.released_on is not None:
        raise _refusal(
            _("This freeze was released on %(day)s.") % {"day": locked.released_on},
            code="released",
            field="frozen_asset",
        )
    if not frozen_assets_in_force(FrozenAsset.objects.filter(pk=locked.pk)).exists():
        raise _refusal(_("This freeze was renewed: act on its renewal."), code="renewed", field="frozen_asset")
    return locked


@transaction.atomic
def frozen_asset_release(*, frozen_asset: FrozenAsset, by, released_on: datetime.date) -> FrozenAsset:
    """The court released a frozen asset (解除冻结): a freeze in force, on a day from the one it
    was frozen up to today. Its renewal deadline closes (legal.deadlines). Recorded in the audit
    trail, before and after."""
    _work_check(by)
    _not_after_today(released_on, _("The day of the release"), field="released_on")
    legal_case = _locked(frozen_asset.legal_case, by)
    frozen_asset = _freeze_in_force(frozen_asset, legal_case)
    if released_on < frozen_asset.frozen_on:
        raise _refusal(
            _("A freeze is released on or after the day it was frozen, %(day)s.") % {"day": frozen_asset.frozen_on},
            code="before_frozen",
            field="released_on",
        )
    FrozenAsset.objects.filter(pk=frozen_asset.pk).update(released_on=released_on)
    # An UPDATE, not save(): the audit entry is written here, once, by `by`.
    audit_change(frozen_asset, {"released_on": (frozen_asset.released_on, released_on)}, by=by)
    frozen_asset.released_on = released_on
    return frozen_asset


@transaction.atomic
def frozen_asset_renew(*, frozen_asset: FrozenAsset, by, renewed_on: datetime.date) -> FrozenAsset:
    """The court renewed a freeze (续行冻结) from `renewed_on`: kept as a new freeze of the same
    asset (enforcement, kind and description) from that day, so the one before counts as
    renewed (legal.deadlines) and the renewal deadline moves to the new freeze's lapse. Only a
    freeze in force, on an active case, after the day it was frozen and by the day it lapses: a
    freeze that lapsed is gone, and the asset must be frozen anew (asset_freeze). The new freeze
    is in the audit trail as created by `by`."""
    _work_check(by)
    _not_after_today(renewed_on, _("The day of the renewal"), field="renewed_on")
    legal_case = _locked(frozen_asset.legal_case, by)
    if not legal_case.is_active:
        raise CollectionError(_("A freeze is renewed on an active legal case."))
    frozen_asset = _freeze_in_force(frozen_asset, legal_case)
    if renewed_on <= frozen_asset.frozen_on:
        raise _refusal(
            _("A freeze is renewed after the day it was frozen, %(day)s.") % {"day": frozen_asset.frozen_on},
            code="before_frozen",
            field="renewed_on",
        )
    if renewed_on > frozen_asset.expires_on:
        raise _refusal(
            _("This freeze lapsed on %(day)s: record the asset as frozen anew.") % {"day": frozen_asset.expires_on},
            code="lapsed",
            field="renewed_on",
        )
    with audit_actor(by):
        return FrozenAsset.objects.create(
            legal_case=legal_case,
            enforcement_id=frozen_asset.enforcement_id,
            kind=frozen_asset.kind,
            description=frozen_asset.description,
            frozen_on=renewed_on,
            recorded_by=by,
        )


@transaction.atomic
def enforcement_suspend(*, legal_case: LegalCase, by, on: datetime.date, reason: str) -> LegalCase:
    """The court ends the current round (终结本次执行): no assets found. The desk checks for
    assets every six months and may resume."""
    _work_check(by)
    legal_case = _locked(legal_case, by)
    _move(legal_case, "suspend_enforcement", by=by, reason=reason)
    Enforcement.objects.filter(legal_case=legal_case, suspended_on__isnull=True).update(suspended_on=on)
    return legal_case


@transaction.atomic
def enforcement_resume(*, legal_case: LegalCase, by, reason: str) -> LegalCase:
    _work_check(by)
    legal_case = _locked(legal_case, by)
    return _move(legal_case, "resume_enforcement", by=by, reason=reason)


# --- costs and limitation --------------------------------------------------------------------


@transaction.atomic
def cost_record(
    *,
    legal_case: LegalCase,
    by,
    kind: str,
    amount: Decimal,
    incurred_on: datetime.date,
    borne_by: str = LegalCost.BorneBy.DESK,
    note: str = "",
) -> LegalCost:
    _work_check(by)
    _not_after_today(incurred_on, _("The day of the cost"))
    if amount <= 0:
        raise ValidationError(_("A cost must be more than zero."), code="amount")
    legal_case = _locked(legal_case, by)
    cost = LegalCost(
        legal_case=legal_case,
        kind=kind,
        amount=amount,
        incurred_on=incurred_on,
        borne_by=borne_by,
        note=note,
        recorded_by=by,
    )
    cost.full_clean(exclude=["legal_case", "recorded_by"])
    cost.save()
    return cost


@transaction.atomic
def limitation_event_record(
    *, legal_case: LegalCase, by, kind: str, occurred_on: datetime.date, evidence: str = ""
) -> LegalCase:
    """A demand, an acknowledgement by the debtor or a suit: the limitation period runs again."""
    _work_check(by)
    _not_after_today(occurred_on, _("The day of the event"))
    if kind not in LimitationEvent.Kind.values:
        raise ValidationError(_("Unknown limitation event %(kind)s.") % {"kind": kind}, code="kind")
    legal_case = _locked(legal_case, by)
    _limitation_restart(legal_case, kind=kind, on=occurred_on, by=by, evidence=evidence)
    return legal_case


# --- endings -------------------------------------------------------------------------------------


@transaction.atomic
def legal_case_close(*, legal_case: LegalCase, by, outcome: str, reason: str) -> LegalCase:
    """Close from any active state: paid (the loan is current or paid off) or
    uncollectible (with a reason)."""
    _work_check(by)
    if not reason.strip():
        raise ValidationError(_("Closing a legal case needs a reason."), code="reason")
    legal_case = _locked(legal_case, by)
    if outcome == Outcome.PAID and legal_case.case.loan.status not in (Loan.Status.CURRENT, Loan.Status.PAID_OFF):
        raise CollectionError(_("Cannot close the legal case as paid: the loan is still past due."))
    return _move(legal_case, "close", by=by, reason=reason, outcome=outcome)


@transaction.atomic
def legal_case_settle(*, legal_case: LegalCase, by, reason: str = "") -> LegalCase:
    """Close as settled, from any active state, once the settlement agreed on the collection case
    (a supervisor's, through collection's settlement services) is approved and paid. The
    collection case is settled through its own service in the same transaction, by the desk's
    system account: the decision was the supervisor's, closing once paid is bookkeeping."""
    _work_check(by)
    return _settle_both(_locked(legal_case, by), by=by, reason=reason)


@transaction.atomic
def legal_case_withdraw(*, legal_case: LegalCase, by, reason: str) -> LegalCase:
    """Withdraw the case from the courts, by a supervisor, with a reason."""
    if not reason.strip():
        raise ValidationError(_("Withdrawing a legal case needs a reason."), code="reason")
    legal_case = _locked(legal_case, by)
    return _move(legal_case, "withdraw", by=by, reason=reason)


@transaction.atomic
def legal_case_assign(*, legal_case: LegalCase, by, officer, firm: LawFirm | None = None) -> LegalCase:
    """Give the case to a legal officer (and counsel)."""
    from accounts import roles

    _work_check(by)
    if roles.LEGAL_OFFICER not in roles.held_roles(officer):
        raise ValidationError(_("%(user)s is not a legal officer.") % {"user": officer}, code="officer")
    legal_case = _locked(legal_case, by)
    legal_case.officer = officer
    if firm is not None:
        legal_case.firm = firm
    legal_case.save(update_fields=["officer", "firm"])
    return legal_case
