"""Forms of the portfolio pages."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _


class PortfolioImportForm(forms.Form):
    """A CSV file to import with loans.imports.portfolio_import (docs/csv-formats.md)."""

    KIND_CHOICES = [
        ("loans", _("Loans and their borrowers")),
        ("schedule", _("Repayment schedules")),
        ("payments", _("Payments")),
        ("contacts", _("Contacts")),
    ]
    ENCODING_CHOICES = [
        ("auto", _("Detect: UTF-8 (with or without BOM), else GBK")),
        ("utf-8", _("UTF-8")),
        ("gb18030", _("GBK / GB18030 (Chinese Excel)")),
    ]

    file = forms.FileField(label=_("CSV file"))
    kind = forms.ChoiceField(
        label=_("The file holds"),
        choices=KIND_CHOICES,
        initial="loans",
        help_text=_("Import loans first, then schedules, then payments and contacts."),
    )
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODING_CHOICES, initial="auto")

    def clean_file(self):
        """Refuse a file above DESK_IMPORT_MAX_UPLOAD_BYTES before a line of it is read: a web request
        is not where a file that large is imported (the import_portfolio command is)."""
        upload = self.cleaned_data["file"]
        limit = settings.DESK_IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _(
                    "The file is %(size)s; the largest file the admin imports is %(limit)s. Import it with the "
                    "import_portfolio command."
                ),
                code="too_large",
                params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
            )
        return upload


class ReasonForm(forms.Form):
    """The reason asked for by an admin action that undoes or turns down money (a payment
    reversal and its decision), kept with what it did."""

    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000)
