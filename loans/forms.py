"""Forms of the portfolio pages."""

from django import forms
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


class ReasonForm(forms.Form):
    """The reason asked for by an admin action that undoes or turns down money (a payment
    reversal and its decision), kept with what it did."""

    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000)
