"""Collection cases and what the desk does with them: stage rules and reminder steps, conduct
limits, contact attempts, promises to pay and repayment plans, routing, job runs and outbound
messages. The case's stages and transitions are the case machine (collection.machine); every
change of a case goes through a service in collection.services."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.models import MONEY, ZERO, Contact, Loan
from loans.phones import mask_phone

from .machine import (
    LIVE_PLAN_STATUSES,
    OPEN_STAGES,
    PENDING_PROMISE,
    WORKING_STAGES,
    CaseMachine,
    Stage,
)
from .validators import reminder_template_validate


class CollectionCase(CaseMachine):
    """A loan in collection. At most one open case per loan."""

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="collection_cases")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned collector"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    last_right_party_contact_at = models.DateTimeField(_("last right-party contact"), null=True, blank=True)
    broken_promises = models.PositiveIntegerField(_("broken promises"), default=0)
    attention_since = models.DateTimeField(
        _("needs attention since"),
        null=True,
        blank=True,
        help_text=_("Set when a promise breaks: the case goes to the top of its collector's queue until worked."),
    )
    # The settlement on the table (the case's SettlementAgreement waiting for approval or agreed),
    # kept here for the settle transition's condition; its history is SettlementAgreement.
    settlement_amount = models.DecimalField(_("agreed settlement"), null=True, blank=True, **MONEY)
    settlement_agreed_at = models.DateTimeField(_("settlement agreed at"), null=True, blank=True)
    settlement_agreed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("settlement agreed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # A database default too: the demo and the benchmark write cases in SQL.
    settlement_awaits_approval = models.BooleanField(
        _("settlement awaits approval"),
        default=False,
        db_default=False,
        help_text=_(
            "The settlement discounts more than policy allows: a supervisor must approve it before it settles."
        ),
    )

    class Meta:
        verbose_name = _("collection case")
        verbose_name_plural = _("collection cases")
        constraints = [
            models.UniqueConstraint(
                fields=["loan"], condition=Q(stage__in=OPEN_STAGES), name="case_one_open_case_per_loan"
            ),
        ]
        indexes = [
            models.Index(fields=["assigned_to", "stage"], name="case_assignee_stage_idx"),
            models.Index(fields=["stage", "stage_entered_at"], name="case_stage_entered_idx"),
        ]
        permissions = [
            ("work_case", _("Can work collection cases")),
            ("escalate_case", _("Can escalate collection cases")),
            ("litigate_case", _("Can send collection cases to litigation")),
            ("hold_case", _("Can put collection cases on hold and resume them")),
            ("settle_case", _("Can settle collection cases")),
            ("write_off_case", _("Can write off collection cases")),
            ("close_case", _("Can close collection cases")),
            ("assign_case", _("Can assign collection cases")),
            ("decide_escalation", _("Can approve or reject escalation requests")),
            ("approve_plan", _("Can approve repayment plans beyond policy")),
            ("approve_settlement", _("Can approve settlements below the approval share")),
        ]

    def __str__(self) -> str:
        return _("Case of %(loan)s") % {"loan": self.loan.account_number}


class SettlementAgreement(models.Model):
    """A settlement agreed on a case: the reduced payoff, what was outstanding then, who agreed it
    and when, and who approved it when it paid less than the approval share. The history of a
    case's settlements: a new agreement replaces the one before only when asked to, and the one
    before stays, replaced, with who replaced it and why. The case keeps the one on the table."""

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", _("Awaiting approval")
        AGREED = "agreed", _("Agreed")
        REPLACED = "replaced", _("Replaced")
        REJECTED = "rejected", _("Rejected")

    LIVE_STATUSES = (Status.PENDING_APPROVAL, Status.AGREED)

    case = models.ForeignKey(
        CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="settlements"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    amount = models.DecimalField(_("settlement amount"), **MONEY)
    outstanding = models.DecimalField(_("outstanding when agreed"), **MONEY)
    agreed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("agreed by"), on_delete=models.PROTECT, related_name="+"
    )
    agreed_at = models.DateTimeField(_("agreed at"))
    needs_approval = models.BooleanField(_("needs approval"), default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("replaced or rejected by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    ended_at = models.DateTimeField(_("replaced or rejected at"), null=True, blank=True)
    end_reason = models.TextField(_("why it was replaced or rejected"), blank=True)

    class Meta:
        ordering = ["-agreed_at", "-pk"]
        verbose_name = _("settlement agreement")
        verbose_name_plural = _("settlement agreements")
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(status__in=["pending_approval", "agreed"]),
                name="settlement_one_on_the_table_per_case",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="settlement_amount_positive"),
        ]

    def __str__(self) -> str:
        return _("Settlement of %(amount)s on %(case)s") % {"amount": self.amount, "case": self.case}


class CaseAssignment(models.Model):
    """Who a case was given to, by whom and why: the assignment history of a case."""

    case = models.ForeignKey(
        CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="assignments"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assigned to"), on_delete=models.PROTECT, related_name="+"
    )
    previous = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("previously assigned to"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assigned by"), on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(_("assigned at"), default=timezone.now)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-assigned_at"]
        verbose_name = _("case assignment")
        verbose_name_plural = _("case assignments")

    def __str__(self) -> str:
        return f"{self.case} → {self.assigned_to}"


# --- stage rules and reminder steps ----------------------------------------------------------


class StageRule(models.Model):
    """When a case enters a stage, and when a case in it moves on to the next stage.

    Escalation criteria are alternatives: any one met moves the case on. Moving into a stage whose
    rule requires approval creates an escalation request for a supervisor instead. The rules must
    make sense as a set: collection.stage_rules checks them, and the admin refuses a bad set."""

    stage = models.CharField(
        _("stage"), max_length=16, choices=[(s.value, s.label) for s in WORKING_STAGES], unique=True
    )
    entry_dpd = models.PositiveIntegerField(
        _("enters at DPD"), null=True, blank=True, help_text=_("Empty: the stage is entered by an event, not by DPD.")
    )
    escalate_at_dpd = models.PositiveIntegerField(_("moves on at DPD"), null=True, blank=True)
    escalate_after_broken_promises = models.PositiveIntegerField(
        _("moves on after broken promises"), null=True, blank=True
    )
    escalate_after_days_without_contact = models.PositiveIntegerField(
        _("moves on after days without right-party contact"), null=True, blank=True
    )
    requires_approval = models.BooleanField(_("moving into this stage needs a supervisor's approval"), default=False)
    reassign_after_days_without_contact = models.PositiveIntegerField(
        _("reassigns after days without right-party contact"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Move a case to another collector of its team when it has had no right-party contact for this many "
            "days (and has been with its collector at least as long). Empty: off."
        ),
    )

    class Meta:
        verbose_name = _("stage rule")
        verbose_name_plural = _("stage rules")

    def __str__(self) -> str:
        return str(Stage(self.stage).label)


class ReminderStep(models.Model):
    """A reminder the desk sends (or a call it schedules) on a given day of a stage."""

    class OffsetFrom(models.TextChoices):
        STAGE_ENTRY = "stage_entry", _("days after entering the stage")
        DPD = "dpd", _("days past due")

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")
        LETTER = "letter", _("Letter")
        CALL_TASK = "call_task", _("Call task")

    stage = models.CharField(_("stage"), max_length=16, choices=[(s.value, s.label) for s in WORKING_STAGES])
    day_offset = models.PositiveSmallIntegerField(_("day"))
    offset_from = models.CharField(
        _("counted from"), max_length=16, choices=OffsetFrom.choices, default=OffsetFrom.STAGE_ENTRY
    )
    channel = models.CharField(
        _("channel"),
        max_length=16,
        choices=Channel.choices,
        help_text=_("A call task sends nothing: it marks the day a collector should call."),
    )
    template_zh = models.TextField(_("message (Chinese)"), blank=True)
    template_en = models.TextField(_("message (English)"), blank=True)
    send_window_start = models.TimeField(_("send from"), default=datetime.time(9, 0))
    send_window_end = models.TimeField(_("send until"), default=datetime.time(20, 0))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["stage", "offset_from", "day_offset"]
        verbose_name = _("reminder step")
        verbose_name_plural = _("reminder steps")
        constraints = [
            models.UniqueConstraint(
                fields=["stage", "offset_from", "day_offset", "channel"], name="reminder_step_unique"
            ),
            models.CheckConstraint(
                condition=Q(send_window_start__lt=models.F("send_window_end")), name="reminder_window_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{Stage(self.stage).label} +{self.day_offset} {self.get_channel_display()}"

    def clean(self) -> None:
        errors = {}
        for field in ("template_zh", "template_en"):
            try:
                # Compiled and rendered against a sample case in both languages, by the restricted
                # engine that renders the step's reminders.
                reminder_template_validate(getattr(self, field))
            except ValidationError as error:
                errors[field] = error.messages
        if self.channel != self.Channel.CALL_TASK and not self.template_zh:
            errors["template_zh"] = _("A message needs its Chinese text.")
        if self.send_window_start and self.send_window_end and self.send_window_start >= self.send_window_end:
            errors["send_window_end"] = _("The send window must end after it starts.")
        if errors:
            raise ValidationError(errors)


class EscalationRequest(models.Model):
    """A move to a later stage awaiting a supervisor: asked by a collector or proposed by a rule."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    case = models.ForeignKey(
        CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="escalation_requests"
    )
    target_stage = models.CharField(
        _("to stage"), max_length=16, choices=[(s.value, s.label) for s in WORKING_STAGES[1:]]
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when a stage rule proposed it."),
    )
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("decision reason"), blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("escalation request")
        verbose_name_plural = _("escalation requests")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "target_stage"],
                condition=Q(status="pending"),
                name="escalation_one_pending_request_per_target",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="escalation_status_idx")]

    def __str__(self) -> str:
        return f"{self.case} → {self.get_target_stage_display()} ({self.get_status_display()})"


# --- conduct limits and contact attempts -----------------------------------------------------


# The legal floors of the conduct limits (docs/conduct-limits.md): the policy may be tightened
# past them, never loosened. Quiet hours must cover at least QUIET_HOURS_FLOOR, wrapping midnight.
QUIET_HOURS_FLOOR = (datetime.time(22, 0), datetime.time(8, 0))
MOST_UNANSWERED_CALLS_PER_NUMBER_PER_DAY = 6
MOST_CALLS_PER_CASE_IN_WINDOW = 7
LEAST_CALL_WINDOW_DAYS = 7
LEAST_DAYS_WITHOUT_CALLS_AFTER_CONVERSATION = 7


class ConductPolicy(models.Model):
    """The desk's conduct limits. One row; admins may tighten the defaults, never loosen them past
    the legal floors (clean() explains, the database refuses)."""

    # Each help text gives the legal floor and where it comes from (docs/conduct-limits.md).
    quiet_hours_start = models.TimeField(
        _("quiet hours start"),
        default=datetime.time(22, 0),
        help_text=_(
            "No outbound calls, messages or visits from this time, in the borrower's time zone. Legal floor: "
            "22:00 or earlier (China's consumer-loan collection guideline of 2026; US Regulation F uses 21:00)."
        ),
    )
    quiet_hours_end = models.TimeField(
        _("quiet hours end"),
        default=datetime.time(8, 0),
        help_text=_(
            "Outbound contact resumes at this time, in the borrower's time zone. Legal floor: 08:00 or later "
            "(China's consumer-loan collection guideline of 2026; US Regulation F uses 08:00 too)."
        ),
    )
    max_unanswered_calls_per_number_per_day = models.PositiveSmallIntegerField(
        _("unanswered calls to one number per day"),
        default=6,
        validators=[MinValueValidator(1)],
        help_text=_(
            "The next call to a number is refused once this many calls to it went unanswered that day. "
            "Floor: at most 6, the desk's own ceiling against harassing call frequency (its conduct "
            "limits: docs/conduct-limits.md)."
        ),
    )
    max_calls_per_case_in_window = models.PositiveSmallIntegerField(
        _("call attempts per case in the rolling window"),
        default=7,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Call attempts allowed on one case within the rolling window below. Legal floor: at most 7 "
            "(US Regulation F, 12 CFR 1006.14(b)(2): 7 calls in 7 days, the desk's ceiling)."
        ),
    )
    call_window_days = models.PositiveSmallIntegerField(
        _("rolling window (days)"),
        default=7,
        validators=[MinValueValidator(1)],
        help_text=_(
            "The number of days the call attempts per case are counted over. Legal floor: at least 7 days "
            "(US Regulation F, 12 CFR 1006.14(b)(2))."
        ),
    )
    days_without_calls_after_conversation = models.PositiveSmallIntegerField(
        _("days without calls after a conversation"),
        default=7,
        help_text=_(
            "No calls for this many days after a conversation with the borrower, unless they asked to be "
            "called. Legal floor: at least 7 days (US Regulation F, 12 CFR 1006.14(b)(2))."
        ),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("conduct policy")
        verbose_name_plural = _("conduct policy")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="conduct_policy_single_row"),
            # Quiet hours wrap midnight and hold 22:00-08:00 (start == end would switch them off).
            models.CheckConstraint(
                condition=Q(quiet_hours_start__gt=models.F("quiet_hours_end"))
                & Q(quiet_hours_start__lte=QUIET_HOURS_FLOOR[0])
                & Q(quiet_hours_end__gte=QUIET_HOURS_FLOOR[1]),
                name="conduct_policy_quiet_hours_floor",
            ),
            models.CheckConstraint(
                condition=Q(max_unanswered_calls_per_number_per_day__lte=MOST_UNANSWERED_CALLS_PER_NUMBER_PER_DAY),
                name="conduct_policy_unanswered_calls_floor",
            ),
            models.CheckConstraint(
                condition=Q(max_calls_per_case_in_window__lte=MOST_CALLS_PER_CASE_IN_WINDOW),
                name="conduct_policy_calls_per_case_floor",
            ),
            models.CheckConstraint(
                condition=Q(call_window_days__gte=LEAST_CALL_WINDOW_DAYS), name="conduct_policy_call_window_floor"
            ),
            models.CheckConstraint(
                condition=Q(days_without_calls_after_conversation__gte=LEAST_DAYS_WITHOUT_CALLS_AFTER_CONVERSATION),
                name="conduct_policy_pause_after_conversation_floor",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Conduct policy"))

    def clean(self) -> None:
        """Refuse, field by field and naming the floor, any limit looser than the law allows."""
        errors = {}
        start, end = self.quiet_hours_start, self.quiet_hours_end
        floor_start, floor_end = QUIET_HOURS_FLOOR
        floor = {"start": f"{floor_start:%H:%M}", "end": f"{floor_end:%H:%M}"}
        if start is not None and end is not None:
            if start == end:
                errors["quiet_hours_end"] = (
                    _(
                        "Quiet hours that start and end at the same time would switch them off: the legal floor is "
                        "no contact from %(start)s to %(end)s at least."
                    )
                    % floor
                )
            elif not (start > end and start <= floor_start and end >= floor_end):
                errors["quiet_hours_start"] = _(
                    "Quiet hours %(from)s-%(until)s do not cover the legal floor: no contact from %(start)s to "
                    "%(end)s at least (start at %(start)s or earlier, end at %(end)s or later)."
                ) % {**floor, "from": f"{start:%H:%M}", "until": f"{end:%H:%M}"}
        at_most = (
            ("max_unanswered_calls_per_number_per_day", MOST_UNANSWERED_CALLS_PER_NUMBER_PER_DAY),
            ("max_calls_per_case_in_window", MOST_CALLS_PER_CASE_IN_WINDOW),
        )
        for field, most in at_most:
            value = getattr(self, field)
            if value is not None and value > most:
                errors[field] = _("%(value)s is above the legal floor: at most %(floor)s.") % {
                    "value": value,
                    "floor": most,
                }
        at_least = (
            ("call_window_days", LEAST_CALL_WINDOW_DAYS),
            ("days_without_calls_after_conversation", LEAST_DAYS_WITHOUT_CALLS_AFTER_CONVERSATION),
        )
        for field, least in at_least:
            value = getattr(self, field)
            if value is not None and value < least:
                errors[field] = _("%(value)s days is below the legal floor: at least %(floor)s days.") % {
                    "value": value,
                    "floor": least,
                }
        if errors:
            raise ValidationError(errors)

    @classmethod
    def current(cls) -> "ConductPolicy":
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


class ContactChannel(models.TextChoices):
    CALL = "call", _("Call")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    LETTER = "letter", _("Letter")
    VISIT = "visit", _("Field visit")
    LAWYER_LETTER = "lawyer_letter", _("Lawyer's letter")


class Outcome(models.TextChoices):
    RIGHT_PARTY_CONTACT = "rpc", _("Right-party contact")
    THIRD_PARTY = "third_party", _("Third party reached")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    REFUSED = "refused", _("Refused to talk")
    PROMISE_TO_PAY = "promise_to_pay", _("Promise to pay")
    DISPUTE = "dispute", _("Dispute")
    HARDSHIP = "hardship", _("Hardship claim")
    ALREADY_PAID = "already_paid", _("Says already paid")
    DO_NOT_CONTACT = "do_not_contact", _("Asked not to be contacted")
    SENT = "sent", _("Sent")


# A conversation with the borrower: it stamps the right-party contact and starts the pause on calls.
CONVERSATION_OUTCOMES = frozenset(
    {
        Outcome.RIGHT_PARTY_CONTACT,
        Outcome.PROMISE_TO_PAY,
        Outcome.DISPUTE,
        Outcome.HARDSHIP,
        Outcome.ALREADY_PAID,
        Outcome.REFUSED,
    }
)
UNANSWERED_OUTCOMES = frozenset({Outcome.NO_ANSWER, Outcome.BUSY})
# What an attempt on a third party may end with: they are asked for the borrower's contact
# details or to pass on a message, nothing about the debt. Not "sent": what the desk sends is a
# reminder, and a reminder names the debt.
THIRD_PARTY_OUTCOMES = frozenset(
    {
        Outcome.THIRD_PARTY,
        Outcome.NO_ANSWER,
        Outcome.BUSY,
        Outcome.WRONG_NUMBER,
        Outcome.REFUSED,
        Outcome.DO_NOT_CONTACT,
    }
)
# The channel each contact opt-out flag covers.
OPT_OUT_FIELD = {
    ContactChannel.CALL: "opt_out_call",
    ContactChannel.SMS: "opt_out_sms",
    ContactChannel.EMAIL: "opt_out_email",
}


class ContactAttempt(models.Model):
    """One attempt to reach a borrower or a third party, accepted by the conduct check."""

    class Direction(models.TextChoices):
        OUTBOUND = "outbound", _("Outbound")
        INBOUND = "inbound", _("Inbound")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="attempts")
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.PROTECT, null=True, blank=True, related_name="attempts"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=ContactChannel.choices)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    attempted_at = models.DateTimeField(_("time"))
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    note = models.TextField(_("note"), blank=True)
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("collector"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contact_attempts",
    )
    second_collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("second collector"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-attempted_at"]
        verbose_name = _("contact attempt")
        verbose_name_plural = _("contact attempts")
        indexes = [
            models.Index(fields=["case", "attempted_at"], name="attempt_case_time_idx"),
            models.Index(fields=["contact", "attempted_at"], name="attempt_contact_time_idx"),
            # The admin lists attempts newest first (attempted_at, then id), whole and filtered by
            # channel, direction or outcome: each index gives a page in that order without sorting
            # millions of rows, and counts by its first column.
            models.Index(fields=["attempted_at", "id"], name="attempt_time_idx"),
            models.Index(fields=["channel", "attempted_at", "id"], name="attempt_channel_time_idx"),
            models.Index(fields=["direction", "attempted_at", "id"], name="attempt_direction_time_idx"),
            models.Index(fields=["outcome", "attempted_at", "id"], name="attempt_outcome_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_outcome_display()} {self.attempted_at:%Y-%m-%d %H:%M}"


class ConductRefusal(models.Model):
    """An attempt the conduct check refused, kept for the compliance report."""

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="refusals")
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=ContactChannel.choices)
    attempted_at = models.DateTimeField(_("time"))
    attempted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("attempted by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    rule = models.CharField(_("rule"), max_length=40)
    detail = models.TextField(_("detail"), blank=True)
    next_allowed_at = models.DateTimeField(_("next allowed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-attempted_at"]
        verbose_name = _("conduct refusal")
        verbose_name_plural = _("conduct refusals")
        indexes = [models.Index(fields=["rule", "attempted_at"], name="refusal_rule_time_idx")]

    def __str__(self) -> str:
        return f"{self.rule} {self.attempted_at:%Y-%m-%d %H:%M}"


class CallConsent(models.Model):
    """The borrower asked to be called: lifts the pause on calls after a conversation."""

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="consents")
    given_at = models.DateTimeField(_("given at"))
    valid_until = models.DateTimeField(_("valid until"))
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("call consent")
        verbose_name_plural = _("call consents")
        constraints = [
            models.CheckConstraint(condition=Q(valid_until__gt=models.F("given_at")), name="consent_period_ordered")
        ]

    def __str__(self) -> str:
        return f"{self.case} {self.given_at:%Y-%m-%d} - {self.valid_until:%Y-%m-%d}"


class Callback(models.Model):
    """The next action on a case: call the borrower back at a time (agreed with them, or chosen by
    the collector). A case has at most one pending callback; the next accepted attempt on the case
    marks it done, and a new callback replaces it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="callbacks")
    due_at = models.DateTimeField(_("call back at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt = models.ForeignKey(
        ContactAttempt,
        verbose_name=_("set at contact attempt"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("set by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("set at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("callback")
        verbose_name_plural = _("callbacks")
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status="pending"), name="callback_one_pending_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} @ {self.due_at:%Y-%m-%d %H:%M}"


class CaseNote(models.Model):
    """A collector's free-text note on a case: what they learnt that no other record holds."""

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="notes")
    text = models.TextField(_("note"))
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("written by"), on_delete=models.PROTECT, related_name="+"
    )
    written_at = models.DateTimeField(_("written at"), default=timezone.now)

    class Meta:
        ordering = ["-written_at"]
        verbose_name = _("case note")
        verbose_name_plural = _("case notes")
        indexes = [models.Index(fields=["case", "written_at"], name="case_note_case_time_idx")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.written_at:%Y-%m-%d %H:%M}"


class CallScript(models.Model):
    """What a collector says in a stage (the stage's strategy), in both of the desk's languages;
    admins edit it, the case page shows it in the reader's language."""

    stage = models.CharField(
        _("stage"), max_length=16, unique=True, choices=[(s.value, s.label) for s in WORKING_STAGES]
    )
    text_zh_hans = models.TextField(_("script (Simplified Chinese)"))
    text_en = models.TextField(_("script (English)"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["stage"]
        verbose_name = _("call script")
        verbose_name_plural = _("call scripts")

    def __str__(self) -> str:
        return str(self.get_stage_display())

    def text_for(self, language: str) -> str:
        return self.text_en if language.startswith("en") else self.text_zh_hans


# --- promises and plans ----------------------------------------------------------------------


class PromiseToPay(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        KEPT = "kept", _("Kept")
        PARTIALLY_KEPT = "partially_kept", _("Partially kept")
        BROKEN = "broken", _("Broken")
        SUPERSEDED = "superseded", _("Replaced by a newer promise")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="promises")
    amount = models.DecimalField(_("amount"), validators=[MinValueValidator(Decimal("0.01"))], **MONEY)
    due_date = models.DateField(_("due date"))
    promised_at = models.DateTimeField(_("promised at"), default=timezone.now)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("taken by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    attempt = models.ForeignKey(
        ContactAttempt,
        verbose_name=_("contact attempt"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="promises",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    amount_paid = models.DecimalField(_("amount paid"), default=ZERO, **MONEY)
    evaluated_at = models.DateTimeField(_("evaluated at"), null=True, blank=True)

    class Meta:
        ordering = ["-promised_at"]
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive"),
            # A new promise replaces the pending one, so that one payment never keeps two promises.
            models.UniqueConstraint(
                fields=["case"], condition=Q(status=PENDING_PROMISE), name="promise_one_pending_per_case"
            ),
        ]
        indexes = [models.Index(fields=["status", "due_date"], name="promise_status_due_idx")]

    def __str__(self) -> str:
        return f"{self.amount} @ {self.due_date}"


class RepaymentPlan(models.Model):
    """A negotiated schedule beside the loan's contractual one, which stays untouched."""

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", _("Awaiting approval")
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        BROKEN = "broken", _("Broken")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="plans")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    total_amount = models.DecimalField(_("total"), **MONEY)
    waived_penalty = models.DecimalField(_("penalty waived"), default=ZERO, **MONEY)
    policy_breaches = models.TextField(_("beyond policy"), blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("proposed by"), on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("decision reason"), blank=True)
    # Kept apart from the decision, so that cancelling an approved plan keeps who approved it.
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cancelled by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.TextField(_("cancellation reason"), blank=True)

    class Meta:
        ordering = ["-proposed_at"]
        verbose_name = _("repayment plan")
        verbose_name_plural = _("repayment plans")
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(status__in=LIVE_PLAN_STATUSES),
                name="plan_one_live_plan_per_case",
            ),
            models.CheckConstraint(condition=Q(total_amount__gt=0), name="plan_total_positive"),
            models.CheckConstraint(condition=Q(waived_penalty__gte=0), name="plan_waiver_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.case} {self.total_amount} ({self.get_status_display()})"


class PlanInstallment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        KEPT = "kept", _("Kept")
        PARTIALLY_KEPT = "partially_kept", _("Partially kept")
        MISSED = "missed", _("Missed")

    plan = models.ForeignKey(
        RepaymentPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="installments"
    )
    sequence = models.PositiveSmallIntegerField(_("number"))
    due_date = models.DateField(_("due date"))
    amount = models.DecimalField(_("amount"), **MONEY)
    amount_paid = models.DecimalField(_("amount paid"), default=ZERO, **MONEY)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    evaluated_at = models.DateTimeField(_("evaluated at"), null=True, blank=True)

    class Meta:
        ordering = ["plan", "sequence"]
        verbose_name = _("plan installment")
        verbose_name_plural = _("plan installments")
        constraints = [
            models.UniqueConstraint(fields=["plan", "sequence"], name="plan_installment_unique_sequence"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="plan_installment_amount_positive"),
        ]
        indexes = [models.Index(fields=["status", "due_date"], name="plan_installment_due_idx")]

    def __str__(self) -> str:
        return f"{self.plan_id} #{self.sequence} {self.amount} @ {self.due_date}"


# --- routing, scheduled jobs and outbound messages -------------------------------------------


class CaseRouting(models.Model):
    """Which team takes the new cases of a product. A row without a product takes the cases of
    every product that has no row of its own. The nightly cycle allocates each new case to a
    collector of its team (cases_allocate); a case with no team to go to stays unassigned."""

    product = models.OneToOneField(
        "loans.Product",
        verbose_name=_("product"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="case_routing",
        help_text=_("Empty: every product without a routing of its own."),
    )
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("case routing")
        verbose_name_plural = _("case routing")
        constraints = [
            models.UniqueConstraint(
                fields=["team"], condition=Q(product__isnull=True), name="case_routing_one_default"
            ),
        ]

    def __str__(self) -> str:
        product = self.product.name if self.product_id else _("every other product")
        return f"{product} → {self.team}"


class JobRun(models.Model):
    """One run of a scheduled job: when it started and ended, what each step did, what failed. A
    job that runs once a day holds the day's `lock_key` ("collection_cycle:2026-11-30"; see
    collection.jobs)."""

    class Job(models.TextChoices):
        COLLECTION_CYCLE = "collection_cycle", _("Nightly collection cycle")
        REMINDER_DISPATCH = "reminder_dispatch", _("Reminder dispatch")
        PROMISE_EVALUATION = "promise_evaluation", _("Promise evaluation")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    job = models.CharField(_("job"), max_length=32, choices=Job.choices)
    as_of = models.DateField(_("as of"))
    lock_key = models.CharField(_("lock"), max_length=64, unique=True, null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    dry_run = models.BooleanField(_("dry run"), default=False)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    heartbeat_at = models.DateTimeField(_("last sign of life"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    counts = models.JSONField(_("counts per step"), default=dict, blank=True)
    errors = models.TextField(_("errors"), blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        indexes = [models.Index(fields=["job", "-started_at"], name="jobrun_job_started_idx")]

    def __str__(self) -> str:
        return f"{self.get_job_display()} {self.as_of} ({self.get_status_display()})"


class OutboundMessage(models.Model):
    """A reminder the desk sends to a borrower: planned from a due reminder step, sent by the
    dispatch through the channel's backend after the conduct check at send time.

    `idempotency_key` is "case:step:day": the same reminder is never planned twice."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        BLOCKED = "blocked", _("Blocked")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="messages")
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    step = models.ForeignKey(
        ReminderStep,
        verbose_name=_("reminder step"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    channel = models.CharField(_("channel"), max_length=16, choices=ContactChannel.choices)
    language = models.CharField(_("language"), max_length=8, default="zh-hans")
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    body = models.TextField(_("text"))
    scheduled_at = models.DateTimeField(_("scheduled for"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("send attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    blocked_rule = models.CharField(_("blocked by rule"), max_length=40, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    provider_reference = models.CharField(_("provider reference"), max_length=100, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=80, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-scheduled_at"]
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        indexes = [
            models.Index(fields=["scheduled_at"], condition=Q(status="queued"), name="message_queued_due_idx"),
            models.Index(fields=["status", "-updated_at"], name="message_status_idx"),
            models.Index(fields=["case", "-scheduled_at"], name="message_case_idx"),
            # The admin finds a message by the gateway's reference, whole or by its start.
            models.Index(
                fields=["provider_reference"], name="message_provider_ref_idx", opclasses=["varchar_pattern_ops"]
            ),
            # The admin lists messages latest first (scheduled_at, then id), without sorting them all.
            models.Index(fields=["scheduled_at", "id"], name="message_scheduled_idx"),
            # The admin's filter by the rule that blocked a message reads the rules from it.
            models.Index(fields=["blocked_rule"], name="message_blocked_rule_idx"),
        ]

    def __str__(self) -> str:
        # Masked: the name of a message ends up in page titles, the admin's history and the audit trail.
        recipient = self.recipient if self.channel == ContactChannel.LETTER else mask_phone(self.recipient)
        return f"{self.get_channel_display()} {recipient} {self.scheduled_at:%Y-%m-%d %H:%M}"


class DashboardDay(models.Model):
    """A past day the nightly cycle has filed into DashboardFigure: the dashboard reads the filed
    days' figures from there and only the days after them from the attempts, payments and
    messages themselves (collection.dashboard.filing; docs/dashboard.md)."""

    day = models.DateField(_("day"), primary_key=True)
    filed_at = models.DateTimeField(_("filed at"))

    class Meta:
        verbose_name = _("filed dashboard day")
        verbose_name_plural = _("filed dashboard days")

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}"


class DashboardFigure(models.Model):
    """One figure of a filed day: a count or an amount of the day's attempts, payments or messages,
    under the team (none: no team, or a payment on a loan without a case) and, for money, the
    stage of the case as they stood when the day was filed; by channel for payments and messages."""

    class Measure(models.TextChoices):
        ATTEMPTS = "attempts", _("Attempts")
        RIGHT_PARTY = "right_party", _("Right-party contacts")
        PAYMENTS = "payments", _("Payments")
        COLLECTED = "collected", _("Amount collected")
        SENT = "sent", _("Messages sent")
        BLOCKED = "blocked", _("Messages blocked")
        FAILED = "failed", _("Messages failed")
        QUEUED = "queued", _("Messages queued")

    day = models.DateField(_("day"))
    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    measure = models.CharField(_("measure"), max_length=16, choices=Measure.choices)
    stage = models.CharField(_("stage"), max_length=16, blank=True)
    channel = models.CharField(_("channel"), max_length=16, blank=True)
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("dashboard figure")
        verbose_name_plural = _("dashboard figures")
        constraints = [
            # One row per day, team, measure, stage and channel; the index serves the dashboard's
            # read of a period, for the whole desk or some teams.
            models.UniqueConstraint(
                fields=["day", "team", "measure", "stage", "channel"],
                name="dashboard_figure_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.measure} {self.value}"
