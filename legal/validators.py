"""Letter templates: what a LetterTemplate's text may name, how it is checked when saved and how it
is rendered for a legal case (the PDF it is printed as is legal.letters').

The text is written for the restricted engine of the reminder templates (collection.validators):
`{{ borrower_name }}`, `{% if %}`, safe filters, nothing that could run away. A letter knows more
than a reminder (the account number whole, the claim itemised, the deadline, the law firm), since
it goes in an envelope to the borrower's own postal address, never to a contact."""

import datetime
import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from collection.validators import (
    LANGUAGES,
    ReminderTemplateError,
    reminder_render,
    reminder_template,
    reminder_template_variables,
)
from loans.templatetags.money import yuan

__all__ = [
    "LETTER_VARIABLES",
    "SAMPLE_LETTER",
    "letter_context",
    "letter_template_validate",
    "letter_text",
]

# What each name a letter's text may use stands for, shown beside the template in the admin. A name
# not listed here is refused when the template is saved.
LETTER_VARIABLES = {
    "company": gettext_lazy("The lender's name, as the desk signs its letters."),
    "hotline": gettext_lazy("The desk's hotline number."),
    "firm": gettext_lazy("The law firm acting on the legal case (a lawyer's letter needs one)."),
    "borrower_name": gettext_lazy("The borrower's name, family name first (朱建国)."),
    "account_number": gettext_lazy("The loan's account number, whole (the letter goes to the borrower's own address)."),
    "days_past_due": gettext_lazy("Days past due today, a whole number."),
    "amount_overdue": gettext_lazy("The overdue amount today, written ¥1,234.56."),
    "claim_items": gettext_lazy(
        "The debt itemised, a line each: principal, interest, fees, penalty, legal costs borne by the borrower, "
        "then the total."
    ),
    "claim_total": gettext_lazy("The whole debt claimed, written ¥1,234.56."),
    "deadline": gettext_lazy('The day by which the borrower is asked to pay (a date: |date:"Y-m-d" formats it).'),
    "today": gettext_lazy("The letter's date."),
}

SAMPLE_LETTER = {
    "firm": "上海明理律师事务所",
    "borrower_name": "张三",
    "account_number": "LN0000001234",
    "days_past_due": 95,
    "amount_overdue": Decimal("3080.59"),
    "items": [
        ("principal", Decimal("10000.00")),
        ("interest", Decimal("820.40")),
        ("fees", Decimal("60.00")),
        ("penalty", Decimal("200.19")),
        ("costs", Decimal("0.00")),
    ],
    "deadline": datetime.date(2026, 12, 31),
    "today": datetime.date(2026, 12, 16),
}

# `{borrower_name}`: a name written in single braces, which the engine would print as it is.
_SINGLE_BRACES = re.compile(r"(?<!\{)\{\s*([A-Za-z_][A-Za-z0-9_ ]*)\s*\}(?!\})")


def _item_labels() -> dict[str, str]:
    return {
        "principal": _("Principal"),
        "interest": _("Interest"),
        "fees": _("Fees"),
        "penalty": _("Penalty"),
        "costs": _("Legal costs"),
    }


def letter_context(
    *,
    firm: str,
    borrower_name: str,
    account_number: str,
    days_past_due: int,
    amount_overdue: Decimal,
    items: list[tuple[str, Decimal]],
    deadline: datetime.date,
    today: datetime.date,
) -> dict:
    """What a letter's text may name, in the active language: scalars only, amounts written as
    ¥1,234.56, the claim's items as lines ("Principal: ¥10,000.00"), zero items left out."""
    labels = _item_labels()
    total = sum((amount for _item, amount in items), Decimal("0.00"))
    lines = [
        _("%(item)s: %(amount)s") % {"item": labels[item], "amount": yuan(amount)} for item, amount in items if amount
    ]
    lines.append(_("%(item)s: %(amount)s") % {"item": _("Total"), "amount": yuan(total)})
    return {
        "company": settings.COLLECTION_COMPANY_NAME,
        "hotline": settings.COLLECTION_HOTLINE,
        "firm": firm,
        "borrower_name": borrower_name,
        "account_number": account_number,
        "days_past_due": days_past_due,
        "amount_overdue": yuan(amount_overdue),
        "claim_items": "\n".join(lines),
        "claim_total": yuan(total),
        "deadline": deadline,
        "today": today,
    }


def letter_text(source: str, context: dict) -> str:
    """The letter's text rendered; ReminderTemplateError when it does not compile or render."""
    return reminder_render(reminder_template(source), context)


def letter_template_validate(source: str) -> None:
    """Refuse (ValidationError) a letter text that does not compile, names anything a letter does
    not know (each unknown name said), writes a name in single braces, or does not render against
    a sample case in each of the desk's languages."""
    single = sorted({name.strip() for name in _SINGLE_BRACES.findall(source)})
    if single:
        raise ValidationError(
            _("Write a letter's names in double braces: %(examples)s.")
            % {
                "examples": ", ".join(
                    _("%(right)s (not %(wrong)s)") % {"right": f"{{{{ {name} }}}}", "wrong": f"{{{name}}}"}
                    for name in single
                )
            },
            code="single_braces",
        )
    try:
        template = reminder_template(source)
    except ReminderTemplateError as error:
        raise ValidationError(_("The letter does not compile: %(error)s") % {"error": error}, code="syntax") from error
    used, defined = reminder_template_variables(template)
    unknown = sorted(used - defined - set(LETTER_VARIABLES))
    if unknown:
        raise ValidationError(
            _("The letter uses %(unknown)s, which a letter does not know: it may use %(known)s.")
            % {
                "unknown": ", ".join(f"{{{{ {name} }}}}" for name in unknown),
                "known": ", ".join(LETTER_VARIABLES),
            },
            code="unknown_variable",
        )
    for language in LANGUAGES:
        with translation.override(language):
            try:
                letter_text(source, letter_context(**SAMPLE_LETTER))
            except ReminderTemplateError as error:
                raise ValidationError(
                    _("The letter cannot be rendered (%(language)s): %(error)s")
                    % {"language": language, "error": error},
                    code="render",
                ) from error
