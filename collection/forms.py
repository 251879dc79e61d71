"""The forms of the collector's workspace: each validates what a person typed and hands it to one
service (collection.services); the business rules stay in the services."""

import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from loans.models import Contact

from .exceptions import StaleCase
from .machine import HoldReason
from .models import ContactAttempt, ContactChannel, Outcome
from .services import escalation_targets

# Outcomes after which there is nothing to call back about: the borrower promised (the promise's
# date is the next action), raised a dispute or hardship (the case is offered the hold), says they
# paid, asked not to be contacted, or the number was wrong. Every other outcome needs a callback.
OUTCOMES_ENDING_THE_WORK = frozenset(
    {
        Outcome.PROMISE_TO_PAY,
        Outcome.DISPUTE,
        Outcome.HARDSHIP,
        Outcome.ALREADY_PAID,
        Outcome.DO_NOT_CONTACT,
        Outcome.WRONG_NUMBER,
    }
)
# What a collector logs by hand: the desk's own sends (SMS, e-mail) are logged by the reminder job.
LOGGED_CHANNELS = [ContactChannel.CALL, ContactChannel.VISIT, ContactChannel.LETTER]
LOGGED_OUTCOMES = [outcome for outcome in Outcome if outcome != Outcome.SENT]
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
MOST_PLAN_PAYMENTS = 24


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def _textarea(rows: int = 2) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class CaseForm(forms.Form):
    """A form acting on one case: it knows the case (and what it offers, e.g. its contacts), and
    the stage the person saw it in. Posted from a page older than the case's last move (another
    collector escalated it, the nightly cycle moved it), it is refused with a request to reload,
    not applied to a case the person has not seen."""

    stage_seen = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, case, **kwargs):
        self.case = case
        kwargs.setdefault("initial", {})["stage_seen"] = case.stage
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        seen = data.get("stage_seen")
        if seen and seen != self.case.stage:
            # The form's error, not the hidden field's: the page shows it above the form (a hidden
            # field's errors show nowhere), and the rest of the form is not checked on a stale page.
            raise forms.ValidationError(StaleCase().message, code="stale")
        return data


class AttemptForm(CaseForm):
    contact = forms.ModelChoiceField(label=_("Contact"), queryset=Contact.objects.none(), required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=[(c.value, c.label) for c in LOGGED_CHANNELS])
    direction = forms.ChoiceField(
        label=_("Direction"), choices=ContactAttempt.Direction.choices, initial=ContactAttempt.Direction.OUTBOUND
    )
    outcome = forms.ChoiceField(label=_("Outcome"), choices=[(o.value, o.label) for o in LOGGED_OUTCOMES])
    duration_seconds = forms.IntegerField(
        label=_("Duration (seconds)"),
        required=False,
        validators=[MinValueValidator(0), MaxValueValidator(4 * 3600)],
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=_textarea())
    callback_at = forms.DateTimeField(
        label=_("Call back at"),
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=DateTimeInput(),
        help_text=_("Desk time. Required unless the outcome ends the work (promise, dispute, hardship, paid, …)."),
    )
    second_collector = forms.ModelChoiceField(
        label=_("Second collector (field visit)"), queryset=User.objects.none(), required=False
    )

    def __init__(self, *args, contacts=None, colleagues=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.filter(borrower_id=self.case.loan.borrower_id)
        if contacts is not None:  # the page's own list: no second query for the choices
            self.fields["contact"].choices = [("", "---------")] + [(c.pk, str(c)) for c in contacts]
        if colleagues is not None:
            self.fields["second_collector"].queryset = colleagues

    def clean(self):
        data = super().clean()
        outcome, callback_at = data.get("outcome"), data.get("callback_at")
        if outcome and outcome not in OUTCOMES_ENDING_THE_WORK and callback_at is None:
            self.add_error(
                "callback_at",
                _("Set when to call back: “%(outcome)s” does not end the work on the case.")
                % {"outcome": Outcome(outcome).label},
            )
        if callback_at is not None and callback_at <= timezone.now():
            self.add_error("callback_at", _("A callback must be in the future."))
        return data


class PromiseForm(CaseForm):
    amount = forms.DecimalField(label=_("Amount (¥)"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    due_date = forms.DateField(label=_("To be paid by"), widget=DateInput())


class PlanForm(CaseForm):
    """A plan of equal monthly payments (the last one takes the cents left over)."""

    first_due_date = forms.DateField(label=_("First payment on"), widget=DateInput())
    payments = forms.IntegerField(
        label=_("Number of monthly payments"), min_value=1, max_value=MOST_PLAN_PAYMENTS, initial=3
    )
    first_amount = forms.DecimalField(
        label=_("First payment (¥)"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    total = forms.DecimalField(label=_("Plan total (¥)"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    waive_penalty = forms.DecimalField(
        label=_("Penalty waived (¥)"), max_digits=14, decimal_places=2, min_value=Decimal("0"), initial=Decimal("0")
    )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data["first_amount"] > data["total"]:
            self.add_error("first_amount", _("The first payment cannot be more than the plan's total."))
        elif data["payments"] == 1 and data["first_amount"] != data["total"]:
            self.add_error("first_amount", _("A plan of one payment pays its whole total at once."))
        return data

    def installments(self) -> list[tuple[datetime.date, Decimal]]:
        """The plan's payments: the first as given, the rest of the total in equal monthly parts."""
        data = self.cleaned_data
        count, first, total = data["payments"], data["first_amount"], data["total"]
        schedule = [(data["first_due_date"], first)]
        if count > 1:
            rest = total - first
            part = (rest / (count - 1)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
            for index in range(1, count):
                amount = part if index < count - 1 else rest - part * (count - 2)
                schedule.append((data["first_due_date"] + relativedelta(months=index), amount))
        return schedule


class EscalationRequestForm(CaseForm):
    target_stage = forms.ChoiceField(label=_("Move the case to"))
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=_textarea(3))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_stage"].choices = [
            (stage, label) for stage, label in escalation_targets(case=self.case).items()
        ]


class HoldForm(CaseForm):
    hold_reason = forms.ChoiceField(label=_("Why"), choices=HoldReason.choices)
    reason = forms.CharField(label=_("Details"), max_length=2000, widget=_textarea())


class ResumeForm(CaseForm):
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=_textarea())


class NoteForm(CaseForm):
    text = forms.CharField(label=_("Note"), max_length=4000, widget=_textarea(3))


class ConsentForm(CaseForm):
    valid_until = forms.DateTimeField(
        label=_("The borrower may be called until"), input_formats=DATETIME_FORMATS, widget=DateTimeInput()
    )
    note = forms.CharField(label=_("What the borrower said"), required=False, max_length=2000, widget=_textarea())


# Where a collector found a new contact (Contact.source).
CONTACT_SOURCES = [
    ("borrower", _("Given by the borrower")),
    ("third_party", _("Given by a third party")),
    ("skip_tracing", _("Skip tracing (records search)")),
    ("other", _("Other")),
]


class ContactAddForm(CaseForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=Contact.Kind.choices)
    value = forms.CharField(label=_("Number or address"), max_length=254)
    name = forms.CharField(label=_("Contact name"), max_length=100, required=False)
    relation = forms.CharField(label=_("Relation to borrower"), max_length=50, required=False)
    source = forms.ChoiceField(label=_("Source"), choices=CONTACT_SOURCES)
    reason = forms.CharField(label=_("How it was found"), max_length=2000, widget=_textarea())


class ContactMarkForm(CaseForm):
    VERIFICATIONS = [
        (Contact.Verification.VERIFIED, _("Verified: it reaches the person named")),
        (Contact.Verification.WRONG, _("Wrong number: it does not reach them")),
    ]
    verification = forms.ChoiceField(label=_("Mark the number"), choices=VERIFICATIONS)
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason"), max_length=2000)


class LostContactForm(CaseForm):
    lost = forms.TypedChoiceField(
        label=_("The borrower"),
        choices=[("1", _("cannot be reached on any known contact")), ("0", _("can be reached again"))],
        coerce=lambda value: value == "1",
    )
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=_textarea())
