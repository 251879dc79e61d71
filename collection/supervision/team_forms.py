"""The reassignment form of the team's case list: which cases (ticked, or every case the filters
keep), to whom (a named collector, or balanced over the team), and why. The service
(collection.services.cases_reassign) decides; the posted case ids are only a wish, read again
within the supervisor's reach."""

from django import forms
from django.utils.translation import gettext_lazy as _


class ReassignForm(forms.Form):
    SELECTED = "selected"
    FILTERED = "filtered"

    scope = forms.ChoiceField(
        label=_("Which cases"),
        choices=[(SELECTED, _("The ticked cases")), (FILTERED, _("Every case the filters keep"))],
        initial=SELECTED,
        widget=forms.RadioSelect,
    )
    to = forms.ModelChoiceField(
        label=_("To"),
        queryset=None,
        required=False,
        empty_label=_("Balanced over the team"),
        help_text=_("Balanced: each case goes to whoever of its team's other collectors carries least."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    filters = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, collectors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = collectors
        self.fields["to"].label_from_instance = lambda user: user.get_full_name() or user.username

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why the cases move."))
        return reason


def posted_case_ids(data) -> list[int]:
    """The case ids a form posted (`case`, repeated), the numbers only: a wish, not a grant."""
    return [int(value) for value in data.getlist("case") if value.isdigit()][:10_000]
