"""The portfolio: borrowers and their contacts, products, loans with their repayment schedules,
payments and how each payment was allocated, and the delinquency buckets."""

import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .fields import DaysPastDueField
from .phones import mask_phone
from .validators import mask_national_id, validate_national_id

ZERO = Decimal("0.00")
MONEY = {"max_digits": 14, "decimal_places": 2}


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class Borrower(models.Model):
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100)
    national_id = models.CharField(
        _("national ID number"), max_length=18, unique=True, validators=[validate_national_id]
    )
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    province = models.CharField(_("province"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_time_zone]
    )
    lost_contact = models.BooleanField(
        _("lost contact"), default=False, help_text=_("The borrower cannot be reached on any known contact.")
    )
    lost_contact_since = models.DateField(
        _("lost contact since"),
        null=True,
        blank=True,
        help_text=_("When the borrower became unreachable; the conduct limits read lost contact, not this date."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("borrower")
        verbose_name_plural = _("borrowers")
        indexes = [
            # The admin searches names by their start (LIKE 'x%'): in any collation only a pattern
            # index serves that; it serves "equal to" too.
            models.Index(fields=["name"], name="borrower_name_prefix_idx", opclasses=["varchar_pattern_ops"]),
            # The admin's filters: the provinces are read from this index and counted by it; the
            # few borrowers who lost contact are listed newest first and counted by the second.
            models.Index(fields=["province"], name="borrower_province_idx"),
            models.Index(fields=["id"], condition=Q(lost_contact=True), name="borrower_lost_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_national_id})"

    @property
    def masked_national_id(self) -> str:
        return mask_national_id(self.national_id)


class Contact(models.Model):
    """A way to reach the borrower or someone who knows them. Phone numbers are stored in E.164."""

    class Kind(models.TextChoices):
        MOBILE = "mobile", _("Own mobile")
        HOME = "home", _("Home phone")
        WORK = "work", _("Work phone")
        EMAIL = "email", _("E-mail")
        EMPLOYER = "employer", _("Employer")
        EMERGENCY = "emergency", _("Emergency contact (relative)")
        OTHER = "other", _("Other third party")

    THIRD_PARTY_KINDS = frozenset({Kind.EMPLOYER, Kind.EMERGENCY, Kind.OTHER})
    # What stops the desk using a contact: set by anyone working the case, cleared by a supervisor.
    FLAGS = ("do_not_contact", "opt_out_call", "opt_out_sms", "opt_out_email")
    # The fields that decide who the desk reaches: changed only through the contact service
    # (collection.services.contacts), with a reason, on the version the user saw.
    PROTECTED_FIELDS = ("borrower", "kind", "value", "verification", *FLAGS)

    class Verification(models.TextChoices):
        UNVERIFIED = "unverified", _("Unverified")
        VERIFIED = "verified", _("Verified")
        WRONG = "wrong", _("Wrong")
        STALE = "stale", _("Stale")

    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.CASCADE, related_name="contacts"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    value = models.CharField(_("number or address"), max_length=254)
    name = models.CharField(_("contact name"), max_length=100, blank=True)
    relation = models.CharField(_("relation to borrower"), max_length=50, blank=True)
    verification = models.CharField(
        _("verification"), max_length=16, choices=Verification.choices, default=Verification.UNVERIFIED
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    opt_out_call = models.BooleanField(_("opted out of calls"), default=False)
    opt_out_sms = models.BooleanField(_("opted out of SMS"), default=False)
    opt_out_email = models.BooleanField(_("opted out of e-mail"), default=False)
    source = models.CharField(
        _("source"), max_length=32, blank=True, help_text=_("Where the contact came from: application, skip tracing...")
    )
    # Raised by every change of the fields that decide who is reached (kind, owner, number,
    # verification, do-not-contact, opt-outs): a change made on an older version is refused, so a
    # form left open cannot undo a newer change.
    # A database default too: the demo and bulk loads write contacts without naming the column.
    version = models.PositiveIntegerField(_("version"), default=1, db_default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        permissions = [
            ("clear_do_not_contact", _("Can clear a contact's do-not-contact flag and opt-outs")),
            (
                "make_contact_own",
                _("Can make a contact the borrower's own (from a third party's or another borrower's)"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["borrower", "value"], name="contact_unique_value_per_borrower"),
        ]
        indexes = [
            # Numbers are found whole (the conduct limits, imports) and by their start (the admin).
            models.Index(fields=["value"], name="contact_value_prefix_idx", opclasses=["varchar_pattern_ops"]),
            # The admin's filters, over millions of contacts: by kind and verification, and the
            # few contacts a flag is set on, each in a partial index of their ids (newest first).
            models.Index(fields=["kind"], name="contact_kind_idx"),
            models.Index(fields=["verification"], name="contact_verification_idx"),
            models.Index(fields=["id"], condition=Q(do_not_contact=True), name="contact_do_not_contact_idx"),
            models.Index(fields=["id"], condition=Q(opt_out_call=True), name="contact_opt_out_call_idx"),
            models.Index(fields=["id"], condition=Q(opt_out_sms=True), name="contact_opt_out_sms_idx"),
            models.Index(fields=["id"], condition=Q(opt_out_email=True), name="contact_opt_out_email_idx"),
        ]

    def __str__(self) -> str:
        # Masked: the name of a contact ends up in the admin's history and the audit trail.
        return f"{self.get_kind_display()} {self.masked_value}"

    @property
    def masked_value(self) -> str:
        return mask_phone(self.value)

    @property
    def is_third_party(self) -> bool:
        return self.kind in self.THIRD_PARTY_KINDS

    def clean(self) -> None:
        from .phones import normalise_contact_value

        if self.value and self.kind:
            self.value = normalise_contact_value(self.kind, self.value)


class ContactChange(models.Model):
    """A change of a contact's kind, owner, number, verification, do-not-contact or opt-outs: who
    made it, why, and each field's old and new value (the business record beside the generic audit
    log). Written by the contact services only; never changed or deleted."""

    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.PROTECT, related_name="changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("changed by"), on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)
    reason = models.TextField(_("reason"))
    # {"field": [old, new], ...}; a borrower by its id.
    changes = models.JSONField(_("changes"))
    version = models.PositiveIntegerField(_("version"), help_text=_("The contact's version this change made."))

    class Meta:
        ordering = ["-changed_at", "-pk"]
        verbose_name = _("contact change")
        verbose_name_plural = _("contact changes")
        constraints = [
            models.UniqueConstraint(fields=["contact", "version"], name="contact_change_one_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} v{self.version} {self.changed_at:%Y-%m-%d %H:%M}"


class Product(models.Model):
    class Kind(models.TextChoices):
        CREDIT_CARD_INSTALLMENT = "credit_card_installment", _("Credit-card installment")
        CONSUMER_LOAN = "consumer_loan", _("Consumer loan")
        ONLINE_CREDIT = "online_credit", _("Online consumer credit")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    grace_days = models.PositiveSmallIntegerField(
        _("grace days"), default=0, help_text=_("Days after a due date before the installment counts as late.")
    )
    daily_penalty_rate = models.DecimalField(
        _("daily penalty rate"),
        max_digits=7,
        decimal_places=6,
        default=Decimal("0.000500"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "Share of the overdue principal the core banking system charges per day late, e.g. 0.000500 = 0.05%. "
            "For reference: the desk does not accrue penalties, it takes them from the schedule."
        ),
    )
    # Repayment-plan policy: a plan within these limits is active at once; beyond them it waits
    # for a supervisor.
    plan_max_term_months = models.PositiveSmallIntegerField(_("longest repayment plan (months)"), default=12)
    plan_max_waiver_share = models.DecimalField(
        _("largest penalty waiver share"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.5000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("Share of the outstanding penalty a plan may waive without approval, e.g. 0.5000 = half."),
    )
    plan_min_first_payment_share = models.DecimalField(
        _("smallest first plan payment share"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.1000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("Share of the amount a plan covers that its first payment must reach, e.g. 0.1000 = 10%."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.CheckConstraint(condition=Q(daily_penalty_rate__gte=0), name="product_penalty_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class DelinquencyBucket(models.Model):
    """A band of days past due (M0 current, M1 1-30, ...). Bands must not overlap."""

    name = models.CharField(_("name"), max_length=16, unique=True)
    min_dpd = models.PositiveIntegerField(_("from DPD"))
    max_dpd = models.PositiveIntegerField(
        _("to DPD"), null=True, blank=True, help_text=_("Empty means no upper limit.")
    )

    class Meta:
        ordering = ["min_dpd"]
        verbose_name = _("delinquency bucket")
        verbose_name_plural = _("delinquency buckets")
        constraints = [
            models.CheckConstraint(
                condition=Q(max_dpd__isnull=True) | Q(max_dpd__gte=F("min_dpd")), name="bucket_range_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.range_label})"

    @property
    def range_label(self) -> str:
        if self.max_dpd is None:
            return f"{self.min_dpd}+"
        if self.max_dpd == self.min_dpd:
            return str(self.min_dpd)
        return f"{self.min_dpd}-{self.max_dpd}"

    def contains(self, days_past_due: int) -> bool:
        return self.min_dpd <= days_past_due and (self.max_dpd is None or days_past_due <= self.max_dpd)

    def overlaps(self, other: "DelinquencyBucket") -> bool:
        self_max = self.max_dpd if self.max_dpd is not None else float("inf")
        other_max = other.max_dpd if other.max_dpd is not None else float("inf")
        return self.min_dpd <= other_max and other.min_dpd <= self_max

    def clean(self) -> None:
        if self.max_dpd is not None and self.min_dpd is not None and self.max_dpd < self.min_dpd:
            raise ValidationError(
                {
                    "max_dpd": _("The upper limit (%(max)s) is below the lower limit (%(min)s).")
                    % {"max": self.max_dpd, "min": self.min_dpd}
                }
            )
        if self.min_dpd is None:
            return
        for other in DelinquencyBucket.objects.exclude(pk=self.pk):
            if self.overlaps(other):
                raise ValidationError(
                    _("Days %(range)s overlap bucket %(other)s (%(other_range)s): every DPD must fall in one bucket.")
                    % {"range": self.range_label, "other": other.name, "other_range": other.range_label}
                )


class Loan(models.Model):
    class Status(models.TextChoices):
        CURRENT = "current", _("Current")
        DELINQUENT = "delinquent", _("Delinquent")
        PAID_OFF = "paid_off", _("Paid off")
        CHARGED_OFF = "charged_off", _("Charged off")
        WRITTEN_OFF = "written_off", _("Written off")

    # Statuses decided by people; the delinquency refresh leaves them alone.
    CLOSED_BY_DECISION = (Status.CHARGED_OFF, Status.WRITTEN_OFF)
    # What ageing stores on a loan, as of the portfolio's day (its days past due are read from
    # grace_ends_on and that day). Written only when one of them changes.
    AGEING_FIELDS = ("oldest_unpaid_due_on", "grace_ends_on", "overdue_amount", "status", "bucket")

    account_number = models.CharField(_("account number"), max_length=40, unique=True)
    borrower = models.ForeignKey(Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="loans")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="loans")
    principal = models.DecimalField(_("principal"), **MONEY)
    annual_rate = models.DecimalField(
        _("annual rate"), max_digits=6, decimal_places=4, help_text=_("e.g. 0.1800 = 18% a year")
    )
    disbursed_on = models.DateField(_("disbursed on"))
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.CURRENT)
    # Derived when read, from the portfolio's ageing day: a day passing changes nothing stored.
    days_past_due = DaysPastDueField(_("days past due"))
    bucket = models.ForeignKey(
        DelinquencyBucket,
        verbose_name=_("bucket"),
        on_delete=models.PROTECT,
        related_name="loans",
        null=True,
        blank=True,
    )
    oldest_unpaid_due_on = models.DateField(_("oldest unpaid due date"), null=True, blank=True)
    grace_ends_on = models.DateField(
        _("grace ends on"),
        null=True,
        blank=True,
        help_text=_("The last day of grace of the oldest unpaid installment: the loan is late from the day after."),
    )
    outstanding_principal = models.DecimalField(_("outstanding principal"), default=ZERO, **MONEY)
    outstanding_interest = models.DecimalField(_("outstanding interest"), default=ZERO, **MONEY)
    outstanding_fees = models.DecimalField(_("outstanding fees"), default=ZERO, **MONEY)
    outstanding_penalty = models.DecimalField(_("outstanding penalty"), default=ZERO, **MONEY)
    overdue_amount = models.DecimalField(
        _("overdue amount"), default=ZERO, help_text=_("Unpaid on installments already due."), **MONEY
    )
    needs_ageing = models.BooleanField(
        _("needs ageing"),
        default=True,
        help_text=_(
            "Set for a loan whose schedule or payments changed outside the services; the next ageing reads it."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        permissions = [("import_portfolio", _("Can import portfolio files"))]
        constraints = [
            models.CheckConstraint(condition=Q(principal__gt=0), name="loan_principal_positive"),
            models.CheckConstraint(condition=Q(annual_rate__gte=0), name="loan_rate_not_negative"),
            models.CheckConstraint(condition=Q(term_months__gt=0), name="loan_term_positive"),
            models.CheckConstraint(
                condition=Q(outstanding_principal__gte=0)
                & Q(outstanding_interest__gte=0)
                & Q(outstanding_fees__gte=0)
                & Q(outstanding_penalty__gte=0)
                & Q(overdue_amount__gte=0),
                name="loan_balances_not_negative",
            ),
        ]
        indexes = [
            # Opening cases and the stage rules read the delinquent loans late since a day.
            models.Index(fields=["status", "grace_ends_on"], name="loan_status_grace_idx"),
            # Ageing reads the loans that cross a band's edge on a day.
            models.Index(fields=["grace_ends_on"], name="loan_grace_ends_idx"),
            models.Index(fields=["id"], condition=Q(needs_ageing=True), name="loan_needs_ageing_idx"),
            # The dashboard's bucket distribution for a team reads the balances of its open cases'
            # loans: from this index alone (a lookup per case), not the whole loans table.
            models.Index(
                fields=["id"],
                include=[
                    "bucket",
                    "outstanding_principal",
                    "outstanding_interest",
                    "outstanding_fees",
                    "outstanding_penalty",
                    "overdue_amount",
                ],
                name="loan_balances_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.account_number

    @property
    def total_outstanding(self) -> Decimal:
        return self.outstanding_principal + self.outstanding_interest + self.outstanding_fees + self.outstanding_penalty


FULLY_PAID = Q(
    principal_paid=F("principal_due"),
    interest_paid=F("interest_due"),
    fees_paid=F("fees_due"),
    penalty_paid=F("penalty_due"),
)


class Installment(models.Model):
    """One line of the contractual repayment schedule, with what has been paid per component."""

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.CASCADE, related_name="installments")
    sequence = models.PositiveSmallIntegerField(_("number"))
    due_date = models.DateField(_("due date"))
    principal_due = models.DecimalField(_("principal due"), default=ZERO, **MONEY)
    interest_due = models.DecimalField(_("interest due"), default=ZERO, **MONEY)
    fees_due = models.DecimalField(_("fees due"), default=ZERO, **MONEY)
    penalty_due = models.DecimalField(_("penalty due"), default=ZERO, **MONEY)
    principal_paid = models.DecimalField(_("principal paid"), default=ZERO, **MONEY)
    interest_paid = models.DecimalField(_("interest paid"), default=ZERO, **MONEY)
    fees_paid = models.DecimalField(_("fees paid"), default=ZERO, **MONEY)
    penalty_paid = models.DecimalField(_("penalty paid"), default=ZERO, **MONEY)
    # Kept equal to "every component paid in full" by a check constraint, so that the
    # oldest unpaid installment is one index probe away.
    is_paid = models.BooleanField(_("paid in full"), default=False)
    paid_on = models.DateField(_("paid in full on"), null=True, blank=True)

    COMPONENTS = ("penalty", "fees", "interest", "principal")  # allocation order

    class Meta:
        ordering = ["loan", "sequence"]
        verbose_name = _("installment")
        verbose_name_plural = _("installments")
        constraints = [
            models.UniqueConstraint(fields=["loan", "sequence"], name="installment_unique_sequence"),
            models.CheckConstraint(
                condition=Q(principal_due__gte=0, interest_due__gte=0, fees_due__gte=0, penalty_due__gte=0),
                name="installment_due_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(principal_paid__gte=0, interest_paid__gte=0, fees_paid__gte=0, penalty_paid__gte=0)
                & Q(principal_paid__lte=F("principal_due"))
                & Q(interest_paid__lte=F("interest_due"))
                & Q(fees_paid__lte=F("fees_due"))
                & Q(penalty_paid__lte=F("penalty_due")),
                name="installment_paid_within_due",
            ),
            models.CheckConstraint(
                condition=(Q(is_paid=True) & FULLY_PAID) | (Q(is_paid=False) & ~FULLY_PAID),
                name="installment_is_paid_matches_amounts",
            ),
        ]
        indexes = [
            models.Index(fields=["loan", "due_date"], condition=Q(is_paid=False), name="installment_unpaid_due_idx"),
            # Ageing reads the unpaid installments that fall late on a day.
            # With the loan in it, so that ageing finds the loans without reading the installments.
            models.Index(
                fields=["due_date"], include=["loan"], condition=Q(is_paid=False), name="installment_unpaid_day_idx"
            ),
        ]

    def __str__(self) -> str:
        return _("%(loan)s installment %(sequence)s") % {"loan": self.loan.account_number, "sequence": self.sequence}

    def remaining(self, component: str) -> Decimal:
        return getattr(self, f"{component}_due") - getattr(self, f"{component}_paid")

    @property
    def total_remaining(self) -> Decimal:
        return sum((self.remaining(component) for component in self.COMPONENTS), ZERO)

    @property
    def total_due(self) -> Decimal:
        return sum((getattr(self, f"{component}_due") for component in self.COMPONENTS), ZERO)


class PaymentQuerySet(models.QuerySet):
    def standing(self) -> "PaymentQuerySet":
        """The payments that count: every payment but those reversed. A reversed payment stays
        stored (its reference stays taken) and counts for nothing."""
        return self.filter(reversed_at__isnull=True)


class Payment(models.Model):
    """Money received on a loan. Recorded and allocated by payment_record, never edited or
    deleted: a mistaken payment is undone by payment_reverse, which leaves it stored, reversed."""

    class Channel(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")
        APP = "app", _("App")
        CARD = "card", _("Card")
        CASH = "cash", _("Cash at branch")
        OTHER = "other", _("Other")

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), **MONEY)
    received_at = models.DateTimeField(_("received at"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    source = models.CharField(
        _("source"), max_length=32, default="manual", help_text=_("The system that reported the payment.")
    )
    reference = models.CharField(_("reference"), max_length=64)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    reversed_at = models.DateTimeField(
        _("reversed at"),
        null=True,
        blank=True,
        help_text=_("When the payment was reversed; a reversed payment counts for nothing (see its reversal)."),
    )

    objects = PaymentQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        permissions = [
            ("reverse_payment", _("Can reverse payments")),
            ("approve_payment_reversal", _("Can approve payment reversals above the threshold")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "reference"], name="payment_unique_reference_per_source"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["loan", "received_at"], name="payment_loan_received_idx"),
            # Imports look references up whole, the admin by their start; the unique constraint
            # leads with the source, which a reference alone cannot use.
            models.Index(fields=["reference"], name="payment_reference_prefix_idx", opclasses=["varchar_pattern_ops"]),
            # The admin's filter by channel (the one by source has the unique constraint's index).
            models.Index(fields=["channel"], name="payment_channel_idx"),
            # The dashboard reads the days after the last filed one (today, mostly) by the time
            # the money came in, and the filing a stretch of days (collection.dashboard).
            models.Index(fields=["received_at"], name="payment_received_idx"),
        ]

    def __str__(self) -> str:
        if self.reversed_at is not None:
            return _("%(reference)s %(amount)s (reversed)") % {"reference": self.reference, "amount": self.amount}
        return f"{self.reference} {self.amount}"

    @property
    def is_reversed(self) -> bool:
        return self.reversed_at is not None


class PaymentAllocation(models.Model):
    class Component(models.TextChoices):
        PENALTY = "penalty", _("Penalty")
        FEES = "fees", _("Fees")
        INTEREST = "interest", _("Interest")
        PRINCIPAL = "principal", _("Principal")

    # A payment is never deleted: not by itself, nor with its allocations.
    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="allocations"
    )
    installment = models.ForeignKey(
        Installment, verbose_name=_("installment"), on_delete=models.PROTECT, related_name="allocations"
    )
    component = models.CharField(_("component"), max_length=16, choices=Component.choices)
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        constraints = [
            models.UniqueConstraint(fields=["payment", "installment", "component"], name="allocation_unique_component"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_component_display()} {self.amount}"


class PaymentReversal(models.Model):
    """The undoing of a mistaken payment: who asked for it and why, who approved it when it is
    above the threshold, and when it took effect. Neither the payment nor its allocations are
    deleted: the allocations stay as the record of what the payment once paid, and the
    installments' paid amounts are given back. A payment has at most one reversal awaiting
    approval or done; a rejected request leaves room for another."""

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", _("Awaiting approval")
        REVERSED = "reversed", _("Reversed")
        REJECTED = "rejected", _("Rejected")

    LIVE_STATUSES = (Status.PENDING_APPROVAL, Status.REVERSED)

    payment = models.ForeignKey(Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="reversals")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved or rejected by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("approved or rejected at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("payment reversal")
        verbose_name_plural = _("payment reversals")
        constraints = [
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(status__in=["pending_approval", "reversed"]),
                name="payment_reversal_one_live_per_payment",
            ),
            models.CheckConstraint(
                condition=Q(status="reversed", reversed_at__isnull=False)
                | (~Q(status="reversed") & Q(reversed_at__isnull=True)),
                name="payment_reversal_reversed_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return _("Reversal of %(payment)s") % {"payment": self.payment.reference}


class AgeingRun(models.Model):
    """One ageing of the portfolio as of a day. The day of the last finished run is the
    portfolio's day: every loan's days past due are counted to it, and its buckets, statuses and
    overdue amounts are as of it. A run that did not finish is read again by the next one."""

    as_of = models.DateField(_("as of"))
    full = models.BooleanField(
        _("every loan"), default=False, help_text=_("Whether the run read every loan, or only those that could change.")
    )
    rules = models.CharField(
        _("ageing rules"), max_length=64, help_text=_("A digest of the buckets and grace days the run aged with.")
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    loans_read = models.PositiveIntegerField(_("loans read"), default=0)
    loans_written = models.PositiveIntegerField(_("loans written"), default=0)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("ageing run")
        verbose_name_plural = _("ageing runs")

    def __str__(self) -> str:
        return f"{self.as_of} ({self.loans_written} / {self.loans_read})"


class PortfolioSnapshot(models.Model):
    """The portfolio on one day, per product and bucket: how many loans and how much money. Taken
    by the nightly cycle; roll rates compare one day's buckets with another's."""

    as_of = models.DateField(_("as of"))
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+")
    bucket = models.ForeignKey(
        DelinquencyBucket,
        verbose_name=_("bucket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    loans = models.PositiveIntegerField(_("loans"))
    delinquent_loans = models.PositiveIntegerField(_("delinquent loans"))
    outstanding_principal = models.DecimalField(_("outstanding principal"), **MONEY)
    total_outstanding = models.DecimalField(_("total outstanding"), **MONEY)
    overdue_amount = models.DecimalField(_("overdue amount"), **MONEY)
    taken_at = models.DateTimeField(_("taken at"), auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "product", "bucket"]
        verbose_name = _("portfolio snapshot")
        verbose_name_plural = _("portfolio snapshots")
        constraints = [
            models.UniqueConstraint(fields=["as_of", "product", "bucket"], name="snapshot_unique_day_product_bucket"),
        ]

    def __str__(self) -> str:
        return f"{self.as_of} {self.product_id} {self.bucket_id}: {self.loans}"


class ImportRun(models.Model):
    """One import of a portfolio file: who ran it and how (the admin's upload or the command),
    which file of which kind, when, the rows read and the records written, and how it ended. Kept
    whether the file was imported or refused: the import is all or nothing, this row is not part
    of it. Its errors are the import's own messages, which show IDs and phone numbers masked."""

    class Via(models.TextChoices):
        ADMIN = "admin", _("Admin upload")
        COMMAND = "command", _("import_portfolio command")

    class Outcome(models.TextChoices):
        RUNNING = "running", _("Running")
        IMPORTED = "imported", _("Imported")
        REFUSED = "refused", _("Refused: nothing imported")
        FAILED = "failed", _("Failed: nothing imported")

    kind = models.CharField(_("kind of file"), max_length=16)
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(_("file size (bytes)"), null=True, blank=True)
    encoding = models.CharField(_("read as"), max_length=32, blank=True)
    ran_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("ran by"), on_delete=models.PROTECT, related_name="+"
    )
    via = models.CharField(_("via"), max_length=16, choices=Via.choices)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    records_created = models.PositiveIntegerField(
        _("records created"), default=0, help_text=_("Borrowers, loans, installments, payments or contacts written.")
    )
    records_skipped = models.PositiveIntegerField(
        _("records skipped"), default=0, help_text=_("Rows identical to what was already stored.")
    )
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    errors = models.TextField(_("first errors"), blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        indexes = [models.Index(fields=["ran_by", "started_at"], name="importrun_ran_by_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name} ({self.get_outcome_display()})"
