"""The legal track: a `LegalCase` for each collection case that enters litigation, carried through
the courts by its own machine (legal.machine), with a record per step (the lawyer's letter,
mediation, payment order, filing, hearings, judgment, enforcement with its receipts and frozen
assets), its legal costs, and the events that restart the debt's limitation period. The
collection case stays the single view of the debt: money received in enforcement is recorded on
the loan as a payment (legal.services). Courts and law firms are lists the admin keeps."""

import datetime
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

from collection.models import CollectionCase, ContactAttempt, ContactChannel
from loans.models import MONEY, Payment

from .machine import LegalMachine, LegalState


def _years_later(day: datetime.date, years: int) -> datetime.date:
    """The same day `years` later (28 February for a 29 February that has none)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class Procedure(models.TextChoices):
    """How the court hears a claim, which decides the share of the filing fee paid: all of it
    in ordinary procedure, half in simplified procedure (Article 16), a third for a payment order
    (督促程序, Article 14)."""

    ORDINARY = "ordinary", _("Ordinary procedure")
    SIMPLIFIED = "simplified", _("Simplified procedure")
    PAYMENT_ORDER = "payment_order", _("Payment order")


class Court(models.Model):
    class Kind(models.TextChoices):
        BASIC = "basic", _("Basic people's court")
        INTERMEDIATE = "intermediate", _("Intermediate people's court")
        INTERNET = "internet", _("Internet court")

    name = models.CharField(_("name"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.BASIC)
    city = models.CharField(_("city"), max_length=60, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("court")
        verbose_name_plural = _("courts")

    def __str__(self) -> str:
        return self.name


class LawFirm(models.Model):
    """External counsel the desk instructs."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    contact_person = models.CharField(_("contact person"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("law firm")
        verbose_name_plural = _("law firms")

    def __str__(self) -> str:
        return self.name


class LegalCase(LegalMachine):
    """A collection case's way through the courts; one per collection case."""

    case = models.OneToOneField(
        CollectionCase, verbose_name=_("collection case"), on_delete=models.PROTECT, related_name="legal_case"
    )
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("legal officer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="legal_cases",
        help_text=_("The legal officer responsible: the deadline reminders go to them."),
    )
    firm = models.ForeignKey(
        LawFirm, verbose_name=_("law firm"), on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    opened_at = models.DateTimeField(_("opened at"))
    # Where the debt's limitation period starts from: the day the desk knew it was unpaid, or the
    # last demand, acknowledgement or suit after it (LimitationEvent); kept by the services.
    limitation_from = models.DateField(_("limitation runs from"))
    # Set by the nightly cycle when the limitation period ends within LEGAL_LIMITATION_WARNING_DAYS
    # (or has ended) while no court has the claim; cleared when it starts again (legal.limitation).
    limitation_flagged_on = models.DateField(
        _("limitation flagged on"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The night the debt was first found close to the end of its limitation period."),
    )

    class Meta:
        verbose_name = _("legal case")
        verbose_name_plural = _("legal cases")
        indexes = [models.Index(fields=["state", "officer"], name="legal_case_state_officer_idx")]
        permissions = [
            ("work_legal_case", _("Can work legal cases")),
            ("withdraw_legal_case", _("Can withdraw legal cases")),
        ]

    def __str__(self) -> str:
        return _("Legal case %(number)s") % {"number": self.pk}

    @property
    def limitation_ends(self) -> datetime.date:
        """The debt's limitation period ends three years after it last started running."""
        return _years_later(self.limitation_from, 3)


class LegalRecord(models.Model):
    legal_case = models.ForeignKey(LegalCase, verbose_name=_("legal case"), on_delete=models.CASCADE)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        abstract = True


class LawyerLetter(LegalRecord):
    number = models.CharField(_("letter number"), max_length=40)
    firm = models.ForeignKey(LawFirm, verbose_name=_("law firm"), on_delete=models.PROTECT, related_name="+")
    sent_on = models.DateField(_("sent on"))
    delivered_on = models.DateField(_("delivered on"), null=True, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=40, blank=True)

    class Meta:
        default_related_name = "letters"
        verbose_name = _("lawyer's letter")
        verbose_name_plural = _("lawyer's letters")

    def __str__(self) -> str:
        return _("Letter %(number)s") % {"number": self.number}


class Mediation(LegalRecord):
    """Pre-litigation mediation (诉前调解); an agreement both parties may have judicially
    confirmed (司法确认) within 30 days of it taking effect, which makes it enforceable."""

    mediator = models.CharField(_("mediator"), max_length=120)
    started_on = models.DateField(_("started on"))
    agreed_on = models.DateField(_("agreement on"), null=True, blank=True)
    agreed_amount = models.DecimalField(_("agreed amount"), null=True, blank=True, **MONEY)
    confirmation_ruling = models.CharField(_("confirmation ruling number"), max_length=60, blank=True)
    confirmed_on = models.DateField(_("confirmed on"), null=True, blank=True)

    class Meta:
        default_related_name = "mediations"
        verbose_name = _("mediation")
        verbose_name_plural = _("mediations")

    def __str__(self) -> str:
        return _("Mediation by %(mediator)s") % {"mediator": self.mediator}

    @property
    def confirmation_deadline(self) -> datetime.date | None:
        return self.agreed_on + datetime.timedelta(days=30) if self.agreed_on else None


class PaymentOrder(LegalRecord):
    """A payment order (支付令, 督促程序): the debtor may object in writing within 15 days of
    service; an objection ends it and the creditor sues."""

    OBJECTION_DAYS = 15

    court = models.ForeignKey(Court, verbose_name=_("court"), on_delete=models.PROTECT, related_name="+")
    applied_on = models.DateField(_("applied on"))
    served_on = models.DateField(_("served on"), null=True, blank=True)
    objection_deadline = models.DateField(_("objection deadline"), null=True, blank=True, editable=False)
    objected_on = models.DateField(_("objected on"), null=True, blank=True)

    class Meta:
        default_related_name = "payment_orders"
        verbose_name = _("payment order")
        verbose_name_plural = _("payment orders")

    def __str__(self) -> str:
        return _("Payment order applied for on %(day)s") % {"day": self.applied_on}

    def save(self, *args, **kwargs):
        self.objection_deadline = (
            self.served_on + datetime.timedelta(days=self.OBJECTION_DAYS) if self.served_on else None
        )
        super().save(*args, **kwargs)


class Filing(LegalRecord):
    """The suit as filed (立案), with the claim computed as of the filing day, itemised."""

    court = models.ForeignKey(Court, verbose_name=_("court"), on_delete=models.PROTECT, related_name="+")
    docket_number = models.CharField(_("docket number"), max_length=60)
    filed_on = models.DateField(_("filed on"))
    procedure = models.CharField(_("procedure"), max_length=16, choices=Procedure.choices, default=Procedure.SIMPLIFIED)
    judge = models.CharField(_("judge"), max_length=60, blank=True)
    clerk = models.CharField(_("clerk"), max_length=60, blank=True)
    claimed_principal = models.DecimalField(_("principal claimed"), **MONEY)
    claimed_interest = models.DecimalField(_("interest claimed"), **MONEY)
    claimed_fees = models.DecimalField(_("fees claimed"), **MONEY)
    claimed_penalty = models.DecimalField(_("penalty claimed"), **MONEY)
    claimed_costs = models.DecimalField(_("costs claimed"), **MONEY)
    claimed_amount = models.DecimalField(_("amount claimed"), **MONEY)

    class Meta:
        default_related_name = "filings"
        verbose_name = _("filing")
        verbose_name_plural = _("filings")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    claimed_amount=models.F("claimed_principal")
                    + models.F("claimed_interest")
                    + models.F("claimed_fees")
                    + models.F("claimed_penalty")
                    + models.F("claimed_costs")
                ),
                name="filing_claim_is_its_items",
            ),
        ]

    def __str__(self) -> str:
        return self.docket_number


class Hearing(LegalRecord):
    held_at = models.DateTimeField(_("hearing at"))
    place = models.CharField(_("place"), max_length=120)
    result = models.TextField(_("result"), blank=True)

    class Meta:
        default_related_name = "hearings"
        ordering = ["held_at"]
        verbose_name = _("hearing")
        verbose_name_plural = _("hearings")

    def __str__(self) -> str:
        return _("Hearing at %(place)s") % {"place": self.place}


class Judgment(LegalRecord):
    """The judgment (判决): appeal within 15 days of service, after which it takes effect."""

    APPEAL_DAYS = 15

    ruled_on = models.DateField(_("ruled on"))
    served_on = models.DateField(_("served on"), null=True, blank=True)
    awarded_amount = models.DecimalField(_("amount awarded"), **MONEY)
    costs_awarded = models.DecimalField(_("costs awarded against the borrower"), **MONEY)
    appeal_deadline = models.DateField(_("appeal deadline"), null=True, blank=True, editable=False)
    effective_on = models.DateField(_("took effect on"), null=True, blank=True)

    class Meta:
        default_related_name = "judgments"
        verbose_name = _("judgment")
        verbose_name_plural = _("judgments")

    def __str__(self) -> str:
        return _("Judgment of %(day)s") % {"day": self.ruled_on}

    def save(self, *args, **kwargs):
        self.appeal_deadline = self.served_on + datetime.timedelta(days=self.APPEAL_DAYS) if self.served_on else None
        super().save(*args, **kwargs)


class Enforcement(LegalRecord):
    """An application for enforcement (执行) and what came of it."""

    court = models.ForeignKey(Court, verbose_name=_("court"), on_delete=models.PROTECT, related_name="+")
    docket_number = models.CharField(_("enforcement docket number"), max_length=60, blank=True)
    applied_on = models.DateField(_("applied on"))
    amount_applied = models.DecimalField(_("amount applied for"), **MONEY)
    suspended_on = models.DateField(_("round ended on"), null=True, blank=True)

    class Meta:
        default_related_name = "enforcements"
        verbose_name = _("enforcement")
        verbose_name_plural = _("enforcements")

    def __str__(self) -> str:
        return self.docket_number or _("Enforcement applied for on %(day)s") % {"day": self.applied_on}


class EnforcementReceipt(LegalRecord):
    """Money the court paid over from enforcement: recorded on the loan as its payment."""

    enforcement = models.ForeignKey(
        Enforcement, verbose_name=_("enforcement"), on_delete=models.PROTECT, related_name="receipts"
    )
    received_on = models.DateField(_("received on"))
    amount = models.DecimalField(_("amount"), **MONEY)
    payment = models.OneToOneField(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="enforcement_receipt"
    )

    class Meta:
        default_related_name = "receipts"
        verbose_name = _("enforcement receipt")
        verbose_name_plural = _("enforcement receipts")

    def __str__(self) -> str:
        return f"{self.received_on} {self.amount}"


class FrozenAsset(LegalRecord):
    """An asset the court froze: a freeze lasts one year on bank deposits, two on movables, three
    on real estate, and must be renewed before it lapses."""

    class Kind(models.TextChoices):
        BANK_DEPOSIT = "bank_deposit", _("Bank deposit")
        MOVABLE = "movable", _("Movable property")
        REAL_ESTATE = "real_estate", _("Real estate")

    YEARS = {Kind.BANK_DEPOSIT: 1, Kind.MOVABLE: 2, Kind.REAL_ESTATE: 3}

    enforcement = models.ForeignKey(
        Enforcement, verbose_name=_("enforcement"), on_delete=models.PROTECT, related_name="frozen_assets"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    description = models.CharField(_("description"), max_length=200)
    frozen_on = models.DateField(_("frozen (or last renewed) on"))
    expires_on = models.DateField(_("freeze lapses on"), editable=False)
    released_on = models.DateField(_("released on"), null=True, blank=True)

    class Meta:
        default_related_name = "frozen_assets"
        verbose_name = _("frozen asset")
        verbose_name_plural = _("frozen assets")

    def __str__(self) -> str:
        return self.description

    def save(self, *args, **kwargs):
        self.expires_on = _years_later(self.frozen_on, self.YEARS[self.kind])
        super().save(*args, **kwargs)


class LegalCost(LegalRecord):
    """A line of the legal-costs ledger: what the desk paid, and who bears it in the end."""

    class Kind(models.TextChoices):
        COURT_FEE = "court_fee", _("Court fee")
        PRESERVATION_FEE = "preservation_fee", _("Preservation fee")
        ENFORCEMENT_FEE = "enforcement_fee", _("Enforcement fee")
        NOTARY = "notary", _("Notary")
        PUBLIC_NOTICE = "public_notice", _("Public notice")
        COUNSEL = "counsel", _("Counsel")
        OTHER = "other", _("Other")

    class BorneBy(models.TextChoices):
        DESK = "desk", _("The desk")
        BORROWER = "borrower", _("Awarded against the borrower")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    incurred_on = models.DateField(_("incurred on"))
    borne_by = models.CharField(_("borne by"), max_length=10, choices=BorneBy.choices, default=BorneBy.DESK)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        default_related_name = "costs"
        ordering = ["incurred_on", "pk"]
        verbose_name = _("legal cost")
        verbose_name_plural = _("legal costs")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="legal_cost_amount_positive")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class LimitationEvent(LegalRecord):
    """What restarts a debt's limitation period: a demand, the debtor's acknowledgement, a suit."""

    class Kind(models.TextChoices):
        DEMAND = "demand", _("Demand for payment")
        ACKNOWLEDGEMENT = "acknowledgement", _("Acknowledgement by the debtor")
        SUIT = "suit", _("Suit or application to a court")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    occurred_on = models.DateField(_("occurred on"))
    evidence = models.CharField(_("evidence"), max_length=200, blank=True)

    class Meta:
        default_related_name = "limitation_events"
        ordering = ["occurred_on", "pk"]
        verbose_name = _("limitation event")
        verbose_name_plural = _("limitation events")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_on}"


# --- letters and documents -----------------------------------------------------------------------


class LetterTemplate(models.Model):
    """A letter the desk writes to a borrower in litigation (a lawyer's letter, a demand notice),
    in the desk's two languages. Its text is written for the restricted engine of the reminder
    templates, with the names of legal.validators (LETTER_VARIABLES): a text that names anything
    else, or does not render, is refused when it is saved."""

    class Kind(models.TextChoices):
        LAWYER_LETTER = "lawyer_letter", _("Lawyer's letter")
        DEMAND_NOTICE = "demand_notice", _("Demand notice")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120, unique=True)
    body_zh_hans = models.TextField(_("text (Chinese)"))
    body_en = models.TextField(
        _("text (English)"), blank=True, help_text=_("Empty: the letter is sent in Chinese only.")
    )
    active = models.BooleanField(_("in use"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("letter template")
        verbose_name_plural = _("letter templates")

    def __str__(self) -> str:
        return self.name

    @property
    def channel(self) -> str:
        """The contact channel the letter is recorded under on the collection case."""
        return ContactChannel.LAWYER_LETTER if self.kind == self.Kind.LAWYER_LETTER else ContactChannel.LETTER

    def body_for(self, language: str) -> str:
        return self.body_en if language == "en" else self.body_zh_hans

    def clean(self) -> None:
        from .validators import letter_template_validate

        errors = {}
        for field in ("body_zh_hans", "body_en"):
            source = getattr(self, field)
            if not source.strip():
                continue  # a blank Chinese text is the field's own error
            try:
                letter_template_validate(source)
            except ValidationError as error:
                errors[field] = error.messages
        if errors:
            raise ValidationError(errors)


# Where the legal track keeps its documents: a folder of their own (LEGAL_DOCUMENTS_ROOT, by default
# var/legal-documents), never under the static or media roots that the web server or whitenoise
# serve. A document has no URL: it leaves the desk only through the download view, which checks who
# asks and writes an audit entry (legal.document_views).


def legal_documents_root() -> Path:
    """The documents' folder, refused when the web server would serve it (under STATIC_ROOT,
    MEDIA_ROOT or a folder of STATICFILES_DIRS)."""
    root = Path(getattr(settings, "LEGAL_DOCUMENTS_ROOT", None) or Path(settings.VAR_DIR) / "legal-documents")
    root = root.resolve()
    served = [settings.STATIC_ROOT, settings.MEDIA_ROOT, *getattr(settings, "STATICFILES_DIRS", [])]
    for folder in served:
        if not folder:
            continue
        folder = Path(folder if isinstance(folder, str | os.PathLike) else folder[1]).resolve()
        if root == folder or folder in root.parents:
            raise ImproperlyConfigured(
                f"LEGAL_DOCUMENTS_ROOT ({root}) is inside {folder}, which is served to anyone: keep it apart."
            )
    return root


@deconstructible(path="legal.models.LegalDocumentStorage")
class LegalDocumentStorage(FileSystemStorage):
    """The file system under legal_documents_root(), read from the settings at each use (so that a
    test or a deployment may move it), readable by the desk's own user only, with no URL."""

    def __init__(self):
        super().__init__(file_permissions_mode=0o600, directory_permissions_mode=0o700)

    @property
    def base_location(self):
        return legal_documents_root()

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None

    def url(self, name):
        raise ValueError("A legal document has no URL: it is served by the download view only.")


def _document_path(document: "LegalDocument", _filename: str) -> str:
    """Where a document is stored: under its legal case, by a generated name with the extension of
    what its content is. The name it was uploaded under is never part of the path."""
    return f"{document.legal_case_id}/{uuid.uuid4().hex}{LegalDocument.EXTENSIONS[document.content_type]}"


class LegalDocument(models.Model):
    """A document of a legal case: uploaded (a filing, a ruling, a receipt: PDF, JPEG or PNG, by
    their content) or a letter the desk rendered from a LetterTemplate. Kept outside anything the
    web server serves (LegalDocumentStorage); downloaded only through its view, each download audited."""

    class Kind(models.TextChoices):
        FILING = "filing", _("Filing")
        RULING = "ruling", _("Ruling")
        JUDGMENT = "judgment", _("Judgment")
        RECEIPT = "receipt", _("Receipt")
        LETTER = "letter", _("Letter")
        OTHER = "other", _("Other")

    PDF = "application/pdf"
    JPEG = "image/jpeg"
    PNG = "image/png"
    EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}

    legal_case = models.ForeignKey(
        LegalCase, verbose_name=_("legal case"), on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file = models.FileField(_("file"), storage=LegalDocumentStorage(), upload_to=_document_path, max_length=200)
    original_name = models.CharField(_("original name"), max_length=255)
    content_type = models.CharField(
        _("content type"), max_length=32, choices=[(PDF, "PDF"), (JPEG, "JPEG"), (PNG, "PNG")]
    )
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    # A rendered letter: its template, its language, and the contact attempt it was recorded as.
    template = models.ForeignKey(
        LetterTemplate,
        verbose_name=_("letter template"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
    )
    language = models.CharField(_("language"), max_length=8, blank=True)
    attempt = models.OneToOneField(
        ContactAttempt,
        verbose_name=_("contact attempt"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="legal_document",
    )

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        verbose_name = _("legal document")
        verbose_name_plural = _("legal documents")
        indexes = [models.Index(fields=["legal_case", "uploaded_at"], name="legal_document_case_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="legal_document_not_empty"),
            models.CheckConstraint(
                condition=Q(kind="letter") | Q(template__isnull=True), name="legal_document_template_is_letter"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name}"


# --- deadlines and their reminders (legal.deadlines, legal.reminders) ----------------------------


class DeadlineKind(models.TextChoices):
    """The kinds of deadline a legal case keeps (legal.deadlines says when each is open)."""

    HEARING = "hearing", _("Hearing")
    OBJECTION = "objection", _("Objection period of the payment order")
    CONFIRMATION = "confirmation", _("Judicial confirmation of the mediated agreement")
    APPEAL = "appeal", _("Appeal period of the judgment")
    ENFORCEMENT_APPLICATION = "enforcement_application", _("Application for enforcement")
    FREEZE_RENEWAL = "freeze_renewal", _("Renewal of a freeze")
    ASSET_CHECK = "asset_check", _("Six-monthly check for assets")
    LIMITATION = "limitation", _("Limitation period of the debt")


class DeadlineReminder(models.Model):
    """A reminder of one deadline, at one lead time, to one legal officer: planned, then sent
    (sent_at). The row is the once-only guard: a deadline is reminded once per lead time and
    recipient however often the job runs. days_before 0 is the reminder of a deadline that
    passed without any reminder before it."""

    legal_case = models.ForeignKey(
        LegalCase, verbose_name=_("legal case"), on_delete=models.CASCADE, related_name="deadline_reminders"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=DeadlineKind.choices)
    # The record the deadline comes from (its kind says which: a hearing, a payment order, a
    # mediation, a judgment, an enforcement, a frozen asset, or the legal case for limitation).
    record_id = models.PositiveBigIntegerField(_("record"))
    due_on = models.DateField(_("due on"))
    days_before = models.PositiveSmallIntegerField(_("days before"))
    to = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sent to"), on_delete=models.PROTECT, related_name="+"
    )
    planned_at = models.DateTimeField(_("planned at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("deadline reminder")
        verbose_name_plural = _("deadline reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["legal_case", "kind", "record_id", "due_on", "days_before", "to"],
                name="deadline_reminder_once",
            ),
        ]
        indexes = [
            models.Index(fields=["to"], condition=Q(sent_at__isnull=True), name="deadline_reminder_unsent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.due_on} -{self.days_before}"


__all__ = [
    "Court",
    "DeadlineKind",
    "DeadlineReminder",
    "Enforcement",
    "EnforcementReceipt",
    "Filing",
    "FrozenAsset",
    "Hearing",
    "Judgment",
    "LawFirm",
    "LawyerLetter",
    "LegalCase",
    "LegalCost",
    "LegalDocument",
    "LegalDocumentStorage",
    "LegalState",
    "LetterTemplate",
    "LimitationEvent",
    "Mediation",
    "PaymentOrder",
    "Procedure",
    "legal_documents_root",
]
