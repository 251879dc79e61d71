"""The forms of a legal case's documents: an upload and a letter to render. They check what a
person typed; what a file is, how large it may be and whether a letter may go are the services'
(legal.document_services)."""

import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .document_services import LETTER_DEADLINE_DAYS
from .models import LegalDocument, LetterTemplate

# Which field a service's refusal belongs on, by its code; the rest are the form's own.
UPLOAD_ERROR_FIELDS = {"size": "file", "type": "file", "kind": "kind"}
LETTER_ERROR_FIELDS = {"template": "template", "language": "language", "deadline": "deadline"}


class DocumentUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of document"), choices=LegalDocument.Kind.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_("A PDF, JPEG or PNG."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"}),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "upload")
        super().__init__(*args, **kwargs)


class LetterRenderForm(forms.Form):
    template = forms.ModelChoiceField(
        label=_("Letter template"), queryset=LetterTemplate.objects.filter(active=True), empty_label=None
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    deadline = forms.DateField(
        label=_("Pay by"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: %(days)s days from today.") % {"days": LETTER_DEADLINE_DAYS},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "letter")
        super().__init__(*args, **kwargs)

    def clean_deadline(self) -> datetime.date | None:
        deadline = self.cleaned_data["deadline"]
        if deadline is not None and deadline <= timezone.localdate():
            raise forms.ValidationError(_("The deadline must be a day after today."))
        return deadline
