"""The legal case page's forms: each validates what a legal officer typed and hands it to one
service (legal.services); the rules stay in the services. `ACTIONS` names them, each with the
service it calls and when the page offers it."""

import dataclasses
from collections.abc import Callable
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.models import User
from collection.forms import DATETIME_FORMATS, DateInput, DateTimeInput

from . import services
from .deadlines import freezes_in_force, frozen_assets_in_force
from .fees import Procedure
from .machine import ACTIVE_STATES, LegalState, Outcome
from .models import Court, FrozenAsset, Hearing, LawFirm, LegalCase, LegalCost, LimitationEvent


def _money(label) -> forms.DecimalField:
    return forms.DecimalField(label=label, max_digits=14, decimal_places=2, min_value=Decimal("0.01"))


def _reason(required: bool = False) -> forms.CharField:
    return forms.CharField(
        label=_("Reason"), max_length=500, required=required, widget=forms.Textarea(attrs={"rows": 2})
    )


def _courts() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(label=_("Court"), queryset=Court.objects.filter(active=True))


def _date(label, required: bool = True) -> forms.DateField:
    return forms.DateField(label=label, widget=DateInput(), required=required)


class LegalForm(forms.Form):
    """A form acting on one legal case (`legal_case`), which it passes to its service."""

    def __init__(self, *args, legal_case: LegalCase, **kwargs):
        self.legal_case = legal_case
        super().__init__(*args, **kwargs)


class LetterForm(LegalForm):
    number = forms.CharField(label=_("Letter number"), max_length=40)
    firm = forms.ModelChoiceField(label=_("Law firm"), queryset=LawFirm.objects.filter(active=True))
    sent_on = _date(_("Sent on"))
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=40, required=False)
    reason = _reason()


class LetterDeliveredForm(LegalForm):
    delivered_on = _date(_("Delivered on"))


class HearingResultForm(LegalForm):
    result = forms.CharField(label=_("Result"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class MediationForm(LegalForm):
    mediator = forms.CharField(label=_("Mediator"), max_length=120)
    started_on = _date(_("Started on"))
    reason = _reason()


class MediationUpdateForm(LegalForm):
    agreed_on = _date(_("Agreement on"), required=False)
    agreed_amount = forms.DecimalField(label=_("Agreed amount (¥)"), max_digits=14, decimal_places=2, required=False)
    confirmation_ruling = forms.CharField(label=_("Confirmation ruling number"), max_length=60, required=False)
    confirmed_on = _date(_("Confirmed on"), required=False)


class PaymentOrderForm(LegalForm):
    court = _courts()
    applied_on = _date(_("Applied on"))
    reason = _reason()


class PaymentOrderUpdateForm(LegalForm):
    served_on = _date(_("Served on"), required=False)
    objected_on = _date(_("Objected on"), required=False)

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("served_on") and not data.get("objected_on"):
            raise forms.ValidationError(_("Give the day of service or of the objection."))
        return data


class SuitForm(LegalForm):
    court = _courts()
    docket_number = forms.CharField(label=_("Docket number"), max_length=60)
    filed_on = _date(_("Filed on"))
    procedure = forms.ChoiceField(
        label=_("Procedure"),
        choices=[(Procedure.SIMPLIFIED, Procedure.SIMPLIFIED.label), (Procedure.ORDINARY, Procedure.ORDINARY.label)],
    )
    judge = forms.CharField(label=_("Judge"), max_length=60, required=False)
    clerk = forms.CharField(label=_("Clerk"), max_length=60, required=False)
    reason = _reason()


class HearingForm(LegalForm):
    held_at = forms.DateTimeField(label=_("Hearing at"), widget=DateTimeInput(), input_formats=DATETIME_FORMATS)
    place = forms.CharField(label=_("Place"), max_length=120)
    result = forms.CharField(label=_("Result"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class JudgmentForm(LegalForm):
    ruled_on = _date(_("Ruled on"))
    awarded_amount = forms.DecimalField(label=_("Amount awarded (¥)"), max_digits=14, decimal_places=2, min_value=0)
    costs_awarded = forms.DecimalField(
        label=_("Costs awarded against the borrower (¥)"), max_digits=14, decimal_places=2, min_value=0
    )
    served_on = _date(_("Served on"), required=False)
    effective_on = _date(_("Took effect on"), required=False)
    reason = _reason()


class JudgmentUpdateForm(LegalForm):
    served_on = _date(_("Served on"), required=False)
    effective_on = _date(_("Took effect on"), required=False)


class EnforcementForm(LegalForm):
    court = _courts()
    applied_on = _date(_("Applied on"))
    amount_applied = _money(_("Amount applied for (¥)"))
    docket_number = forms.CharField(label=_("Enforcement docket number"), max_length=60, required=False)
    reason = _reason()


class ReceiptForm(LegalForm):
    received_on = _date(_("Received on"))
    amount = _money(_("Amount (¥)"))
    reference = forms.CharField(label=_("Court's remittance reference"), max_length=60)


class FreezeForm(LegalForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=FrozenAsset.Kind.choices)
    description = forms.CharField(label=_("Description"), max_length=200)
    frozen_on = _date(_("Frozen (or renewed) on"))


def _freeze_label(frozen_asset: FrozenAsset) -> str:
    return _("%(kind)s: %(description)s, lapses on %(expires_on)s") % {
        "kind": frozen_asset.get_kind_display(),
        "description": frozen_asset.description,
        "expires_on": frozen_asset.expires_on,
    }


def _hearing_label(hearing: Hearing) -> str:
    return f"{timezone.localtime(hearing.held_at):%Y-%m-%d %H:%M} {hearing.place}"


class FreezeInForceForm(LegalForm):
    """Chooses one of the case's freezes in force (legal.deadlines.frozen_assets_in_force); one
    released or renewed since the page was read is refused on the field, the rest kept. Both
    such forms are on the page at once: each names its fields' ids (`auto_id`) its own way."""

    field_ids = "id_%s"

    frozen_asset = forms.ModelChoiceField(
        label=_("Frozen asset"),
        queryset=FrozenAsset.objects.none(),
        error_messages={"invalid_choice": _("This freeze is no longer in force: it was released or renewed.")},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", self.field_ids)
        super().__init__(*args, **kwargs)
        field = self.fields["frozen_asset"]
        field.queryset = frozen_assets_in_force(FrozenAsset.objects.filter(legal_case=self.legal_case)).order_by(
            "expires_on", "pk"
        )
        field.label_from_instance = _freeze_label


class FreezeReleaseForm(FreezeInForceForm):
    field_ids = "id_release_%s"
    released_on = _date(_("Released on"))


class FreezeRenewForm(FreezeInForceForm):
    field_ids = "id_renew_%s"
    renewed_on = _date(_("Renewed on"))


class HearingRescheduleForm(LegalForm):
    """Chooses one of the case's hearings without a result and its new time and place."""

    hearing = forms.ModelChoiceField(
        label=_("Hearing"),
        queryset=Hearing.objects.none(),
        error_messages={"invalid_choice": _("This hearing has its result recorded: it can no longer be moved.")},
    )
    held_at = forms.DateTimeField(label=_("New time"), widget=DateTimeInput(), input_formats=DATETIME_FORMATS)
    place = forms.CharField(
        label=_("Place"), max_length=120, required=False, help_text=_("Left blank, the place stays the same.")
    )
    reason = _reason()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["hearing"]
        field.queryset = Hearing.objects.filter(legal_case=self.legal_case, result="").order_by("held_at", "pk")
        field.label_from_instance = _hearing_label


class SuspendForm(LegalForm):
    on = _date(_("Round ended on"))
    reason = _reason(required=True)


class ReasonForm(LegalForm):
    reason = _reason(required=True)


class CostForm(LegalForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=LegalCost.Kind.choices)
    amount = _money(_("Amount (¥)"))
    incurred_on = _date(_("Incurred on"))
    borne_by = forms.ChoiceField(label=_("Borne by"), choices=LegalCost.BorneBy.choices)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class LimitationForm(LegalForm):
    kind = forms.ChoiceField(label=_("Event"), choices=LimitationEvent.Kind.choices)
    occurred_on = _date(_("On"))
    evidence = forms.CharField(label=_("Evidence"), max_length=200, required=False)


class CloseForm(LegalForm):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(Outcome.PAID, Outcome.PAID.label), (Outcome.UNCOLLECTIBLE, Outcome.UNCOLLECTIBLE.label)],
    )
    reason = _reason(required=True)


class AssignForm(LegalForm):
    officer = forms.ModelChoiceField(label=_("Legal officer"), queryset=User.objects.none())
    firm = forms.ModelChoiceField(label=_("Law firm"), queryset=LawFirm.objects.filter(active=True), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["officer"].queryset = User.objects.filter(
            is_active=True, groups__name=roles.LEGAL_OFFICER
        ).order_by("last_name", "first_name", "username")


@dataclasses.dataclass(frozen=True)
class Action:
    """An action of the legal case page: its form, the service call it makes with the form's data,
    the states it is offered in, the permission it needs, and what the page says once done."""

    form: type[LegalForm]
    run: Callable[..., object]
    states: tuple[str, ...]
    label: str
    done: str
    permission: str = "legal.work_legal_case"
    # Whether the case has what the action acts on (a freeze in force, a hearing to come), read
    # from its records already read for the page; None: always.
    shown: Callable[[LegalCase], bool] | None = None


def _latest(legal_case: LegalCase, records: str):
    """The case's latest record of a kind (its mediation, payment order, judgment, enforcement)."""
    record = getattr(legal_case, records).order_by("-pk").first()
    if record is None:
        raise forms.ValidationError(_("There is no such record on this case yet."))
    return record


def _has_freeze_in_force(legal_case: LegalCase) -> bool:
    return bool(freezes_in_force(list(legal_case.frozen_assets.all())))


def _has_hearing_without_result(legal_case: LegalCase) -> bool:
    return any(not hearing.result for hearing in legal_case.hearings.all())


BEFORE_SUIT = (LegalState.PREPARING, LegalState.LETTER_SENT, LegalState.MEDIATION)
IN_ENFORCEMENT = (LegalState.ENFORCEMENT, LegalState.ENFORCEMENT_SUSPENDED)
ACTIVE = tuple(ACTIVE_STATES)

ACTIONS: dict[str, Action] = {
    "letter": Action(
        LetterForm,
        lambda legal_case, by, data: services.letter_send(legal_case=legal_case, by=by, **data),
        (LegalState.PREPARING,),
        _("Send a lawyer's letter"),
        _("The lawyer's letter is recorded."),
    ),
    "letter_delivered": Action(
        LetterDeliveredForm,
        lambda legal_case, by, data: services.letter_update(letter=_latest(legal_case, "letters"), by=by, **data),
        (LegalState.LETTER_SENT,),
        _("Record the letter's delivery"),
        _("The letter's delivery is recorded."),
    ),
    "mediation": Action(
        MediationForm,
        lambda legal_case, by, data: services.mediation_start(legal_case=legal_case, by=by, **data),
        (LegalState.PREPARING, LegalState.LETTER_SENT),
        _("Start mediation"),
        _("Mediation has started."),
    ),
    "mediation_update": Action(
        MediationUpdateForm,
        lambda legal_case, by, data: services.mediation_update(
            mediation=_latest(legal_case, "mediations"),
            by=by,
            **{field: value for field, value in data.items() if value not in (None, "")},
        ),
        (LegalState.MEDIATION,),
        _("Record the agreement or its confirmation"),
        _("The mediation is updated."),
    ),
    "payment_order": Action(
        PaymentOrderForm,
        lambda legal_case, by, data: services.payment_order_apply(legal_case=legal_case, by=by, **data),
        BEFORE_SUIT,
        _("Apply for a payment order"),
        _("The application for a payment order is recorded."),
    ),
    "payment_order_update": Action(
        PaymentOrderUpdateForm,
        lambda legal_case, by, data: services.payment_order_update(
            order=_latest(legal_case, "payment_orders"), by=by, **data
        ),
        (LegalState.PAYMENT_ORDER,),
        _("Record service or an objection"),
        _("The payment order is updated."),
    ),
    "suit": Action(
        SuitForm,
        lambda legal_case, by, data: services.suit_file(legal_case=legal_case, by=by, **data),
        (*BEFORE_SUIT, LegalState.PAYMENT_ORDER),
        _("File the suit"),
        _("The suit is filed; the claim and the filing fee are recorded."),
    ),
    "hearing": Action(
        HearingForm,
        lambda legal_case, by, data: services.hearing_record(legal_case=legal_case, by=by, **data),
        (LegalState.FILED, LegalState.IN_HEARING),
        _("Record a hearing"),
        _("The hearing is recorded."),
    ),
    "hearing_result": Action(
        HearingResultForm,
        lambda legal_case, by, data: services.hearing_result(hearing=_latest(legal_case, "hearings"), by=by, **data),
        (LegalState.IN_HEARING,),
        _("Record what came of the last hearing"),
        _("The hearing's result is recorded."),
    ),
    "hearing_reschedule": Action(
        HearingRescheduleForm,
        lambda legal_case, by, data: services.hearing_reschedule(by=by, **data),
        (LegalState.IN_HEARING,),
        _("Move a hearing"),
        _("The hearing is moved; its deadline follows the new day."),
        shown=_has_hearing_without_result,
    ),
    "judgment": Action(
        JudgmentForm,
        lambda legal_case, by, data: services.judgment_record(legal_case=legal_case, by=by, **data),
        (LegalState.IN_HEARING,),
        _("Record the judgment"),
        _("The judgment is recorded."),
    ),
    "judgment_update": Action(
        JudgmentUpdateForm,
        lambda legal_case, by, data: services.judgment_update(judgment=_latest(legal_case, "judgments"), by=by, **data),
        (LegalState.JUDGMENT,),
        _("Record service or effect"),
        _("The judgment is updated."),
    ),
    "enforcement": Action(
        EnforcementForm,
        lambda legal_case, by, data: services.enforcement_apply(legal_case=legal_case, by=by, **data),
        (LegalState.JUDGMENT, LegalState.PAYMENT_ORDER, LegalState.MEDIATION),
        _("Apply for enforcement"),
        _("The application for enforcement is recorded."),
    ),
    "receipt": Action(
        ReceiptForm,
        lambda legal_case, by, data: services.enforcement_receipt_record(
            enforcement=_latest(legal_case, "enforcements"), by=by, **data
        ),
        IN_ENFORCEMENT,
        _("Record money received"),
        _("The money is recorded on the loan."),
    ),
    "freeze": Action(
        FreezeForm,
        lambda legal_case, by, data: services.asset_freeze(
            enforcement=_latest(legal_case, "enforcements"), by=by, **data
        ),
        IN_ENFORCEMENT,
        _("Record a frozen asset"),
        _("The frozen asset is recorded."),
    ),
    "freeze_renew": Action(
        FreezeRenewForm,
        lambda legal_case, by, data: services.frozen_asset_renew(by=by, **data),
        IN_ENFORCEMENT,
        _("Renew a freeze"),
        _("The renewal is recorded; the freeze now lapses a term after it."),
        shown=_has_freeze_in_force,
    ),
    "freeze_release": Action(
        FreezeReleaseForm,
        lambda legal_case, by, data: services.frozen_asset_release(by=by, **data),
        IN_ENFORCEMENT,
        _("Record a freeze released"),
        _("The release is recorded; the freeze no longer needs renewing."),
        shown=_has_freeze_in_force,
    ),
    "suspend": Action(
        SuspendForm,
        lambda legal_case, by, data: services.enforcement_suspend(legal_case=legal_case, by=by, **data),
        (LegalState.ENFORCEMENT,),
        _("End the current round of enforcement"),
        _("The round of enforcement is ended; check for assets every six months."),
    ),
    "resume": Action(
        ReasonForm,
        lambda legal_case, by, data: services.enforcement_resume(legal_case=legal_case, by=by, **data),
        (LegalState.ENFORCEMENT_SUSPENDED,),
        _("Resume enforcement"),
        _("Enforcement is resumed."),
    ),
    "cost": Action(
        CostForm,
        lambda legal_case, by, data: services.cost_record(legal_case=legal_case, by=by, **data),
        ACTIVE,
        _("Record a cost"),
        _("The cost is recorded."),
    ),
    "limitation": Action(
        LimitationForm,
        lambda legal_case, by, data: services.limitation_event_record(legal_case=legal_case, by=by, **data),
        ACTIVE,
        _("Record a demand, acknowledgement or suit"),
        _("The limitation period runs again from that day."),
    ),
    "assign": Action(
        AssignForm,
        lambda legal_case, by, data: services.legal_case_assign(legal_case=legal_case, by=by, **data),
        ACTIVE,
        _("Assign"),
        _("The legal case is assigned."),
    ),
    "close": Action(
        CloseForm,
        lambda legal_case, by, data: services.legal_case_close(legal_case=legal_case, by=by, **data),
        ACTIVE,
        _("Close"),
        _("The legal case is closed."),
    ),
    "settle": Action(
        ReasonForm,
        lambda legal_case, by, data: services.legal_case_settle(legal_case=legal_case, by=by, **data),
        ACTIVE,
        _("Close as settled"),
        _("The legal case and the collection case are settled."),
    ),
    "withdraw": Action(
        ReasonForm,
        lambda legal_case, by, data: services.legal_case_withdraw(legal_case=legal_case, by=by, **data),
        ACTIVE,
        _("Withdraw"),
        _("The legal case is withdrawn."),
        permission="legal.withdraw_legal_case",
    ),
}


def actions_offered(legal_case: LegalCase, user) -> list[str]:
    """The actions open to `user` on the case now: its state allows them and the user holds
    their permission (the services check again)."""
    return [
        name
        for name, action in ACTIONS.items()
        if legal_case.state in action.states and user.has_perm(action.permission)
    ]


def actions_shown(legal_case: LegalCase, user, *, keep: tuple[str, ...] = ()) -> list[str]:
    """The actions the page shows `user`: those open, less those with nothing on the case to act
    on now (no freeze in force, no hearing without a result), read from the records the page
    read; an action in `keep` (a form just refused, with its errors) is shown whatever."""
    return [
        name
        for name in actions_offered(legal_case, user)
        if name in keep or ACTIONS[name].shown is None or ACTIONS[name].shown(legal_case)
    ]
