"""Reminder templates: the text an admin writes for a reminder step, rendered by a restricted
template engine, the same one when the step is saved (against a sample case, in both of the desk's
languages) and when its reminders are planned.

The engine knows only what a reminder needs: the context's figures, `if`/`with`, and filters that
cannot blow up a worker (no `load`, `include`, `extends`, `debug`, `lorem`, `url`, no loops: the
context holds no lists; the width-taking filters are capped, and so is the rendered text). A
template an admin could save that then fails to render would stop nobody else's reminders (see
collection.messaging), but it is refused when saved."""

import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, Library, Template, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import FilterExpression, Node, NodeList, Variable
from django.template.smartif import Literal, TokenBase
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

__all__ = [
    "REMINDER_MAX_LENGTH",
    "VARIABLE_MEANINGS",
    "ReminderTemplateError",
    "reminder_context",
    "reminder_preview",
    "reminder_render",
    "reminder_template",
    "reminder_template_validate",
    "reminder_template_variables",
]

# The longest text a reminder renders to: a letter is a page, an SMS far less.
REMINDER_MAX_LENGTH = 5_000
# The widest a padding filter (ljust, rjust, center) or a number's decimals may go.
_MAX_WIDTH = 200
_MAX_DECIMALS = 10

ALLOWED_TAGS = (
    "autoescape",
    "comment",
    "filter",
    "firstof",
    "if",
    "now",
    "spaceless",
    "templatetag",
    "verbatim",
    "with",
)
_PLAIN_FILTERS = (
    "capfirst",
    "cut",
    "date",
    "default",
    "default_if_none",
    "divisibleby",
    "first",
    "last",
    "length",
    "lower",
    "pluralize",
    "slice",
    "time",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "wordcount",
    "yesno",
)


class ReminderTemplateError(Exception):
    """A reminder template that does not compile or render, in words."""


def _capped(name: str, limit: int):
    """The built-in filter `name`, refusing an argument above `limit` (a width, a number of decimals)."""
    builtin = defaultfilters.register.filters[name]

    def capped(value, arg=None):
        # Every run of digits in the argument, since some filters read a number out of more
        # ("100000000g" is floatformat's precision with grouping).
        size = max((int(digits) for digits in re.findall(r"[0-9]+", str(arg or ""))), default=0)
        if size > limit:
            raise ReminderTemplateError(
                _("The filter %(filter)s takes at most %(limit)s.") % {"filter": name, "limit": limit}
            )
        return builtin(value) if arg is None else builtin(value, arg)

    return capped


def _add(value, arg):
    """add, refusing a text that outgrows a reminder (nested `with` could double it at each level)."""
    result = defaultfilters.add(value, arg)
    if isinstance(result, str | list) and len(result) > REMINDER_MAX_LENGTH:
        raise ReminderTemplateError(_("The text grows past %(limit)s characters.") % {"limit": REMINDER_MAX_LENGTH})
    return result


def _library() -> Library:
    library = Library()
    for name in ALLOWED_TAGS:
        library.tags[name] = defaulttags.register.tags[name]
    for name in _PLAIN_FILTERS:
        library.filters[name] = defaultfilters.register.filters[name]
    for name in ("ljust", "rjust", "center"):
        library.filter(name, _capped(name, _MAX_WIDTH))
    library.filter("floatformat", _capped("floatformat", _MAX_DECIMALS))
    library.filter("add", _add)
    return library


class _ReminderEngine(Engine):
    """An engine with no loaders, no libraries to load and only the library above built in."""

    def __init__(self):
        super().__init__(loaders=[], libraries={}, builtins=[], autoescape=False, debug=False)
        self.template_builtins = [_library()]


ENGINE = _ReminderEngine()


def reminder_template(source: str) -> Template:
    """The compiled template; ReminderTemplateError when it does not compile."""
    try:
        return ENGINE.from_string(source)
    except TemplateSyntaxError as error:
        raise ReminderTemplateError(
            _("%(error)s (a reminder may use only these tags: %(tags)s)")
            % {"error": error, "tags": ", ".join(ALLOWED_TAGS)}
        ) from error


# What each name a reminder's text may use stands for: the keys of reminder_context, shown beside
# the template in the admin. A name not listed here is refused when the step is saved.
VARIABLE_MEANINGS = {
    "company": gettext_lazy("The lender's name, as the desk signs its messages."),
    "hotline": gettext_lazy("The desk's hotline number, for the borrower to call back."),
    "borrower_name": gettext_lazy("The borrower's name, family name first (朱建国)."),
    "account_tail": gettext_lazy("The last four digits of the loan's account number (never the whole number)."),
    "days_past_due": gettext_lazy("Days past due on the day the reminder is planned, a whole number."),
    "overdue_amount": gettext_lazy("The overdue amount on that day, in yuan (a decimal: |floatformat:2 shows cents)."),
}


def reminder_context(*, borrower_name: str, account_number: str, days_past_due: int, overdue_amount) -> dict:
    """What a reminder's text may name: scalars only, never a model object."""
    return {
        "company": settings.COLLECTION_COMPANY_NAME,
        "hotline": settings.COLLECTION_HOTLINE,
        "borrower_name": borrower_name,
        "account_tail": account_number[-4:],
        "days_past_due": days_past_due,
        "overdue_amount": overdue_amount,
    }


def _names_in(value, found: set[str]) -> None:
    """The context names `value` (a part of a compiled node) looks up, added to `found`."""
    if isinstance(value, Variable):
        if value.lookups:  # None for a literal ("text", 3, True)
            found.add(value.lookups[0])
    elif isinstance(value, FilterExpression):
        _names_in(value.var, found)
        for _filter, arguments in value.filters:
            for _is_lookup, argument in arguments:
                _names_in(argument, found)
    elif isinstance(value, Literal):  # an operand of {% if %}
        _names_in(value.value, found)
    elif isinstance(value, TokenBase):  # an operator of {% if %}
        _names_in(getattr(value, "first", None), found)
        _names_in(getattr(value, "second", None), found)
    elif isinstance(value, dict):
        for item in value.values():
            _names_in(item, found)
    elif isinstance(value, list | tuple) and not isinstance(value, NodeList):
        for item in value:
            _names_in(item, found)


def reminder_template_variables(template: Template) -> tuple[set[str], set[str]]:
    """The names the template looks up in its context, and those it defines itself
    ({% with name=... %}, {% now ... as name %}, {% firstof ... as name %})."""
    used: set[str] = set()
    defined: set[str] = set()
    for node in template.nodelist.get_nodes_by_type(Node):
        for name, value in vars(node).items():
            if name in ("token", "origin", "nodelist") or isinstance(value, Node | NodeList):
                continue
            if name == "extra_context":  # {% with %}: the names it defines, and what it reads
                defined.update(value)
            if name == "asvar" and value:
                defined.add(value)
            if name == "filter_expr":  # {% filter %}: "var|..." filters the block, only its arguments are read
                value = [argument for _filter, arguments in value.filters for _is_lookup, argument in arguments]
            if name == "conditions_nodelists":
                value = [condition for condition, _nodelist in value]
            _names_in(value, used)
    return used, defined


def reminder_render(template: Template, context: dict) -> str:
    """The text, plain (not HTML-escaped); ReminderTemplateError for whatever stops it rendering
    and for a text longer than REMINDER_MAX_LENGTH."""
    try:
        text = template.render(Context(context, autoescape=False))
    except ReminderTemplateError:
        raise
    except Exception as error:  # anything a template can raise while rendering
        raise ReminderTemplateError(f"{type(error).__name__}: {error}") from error
    if len(text) > REMINDER_MAX_LENGTH:
        raise ReminderTemplateError(
            _("The text is %(length)s characters long once rendered: at most %(limit)s.")
            % {"length": len(text), "limit": REMINDER_MAX_LENGTH}
        )
    return text


SAMPLE_CASE = {
    "borrower_name": "张三",
    "account_number": "LN0000001234",
    "days_past_due": 30,
    "overdue_amount": Decimal("1080.59"),
}
# The desk's languages: a step's text is rendered in the desk's language, whichever it is.
LANGUAGES = ("zh-hans", "en")


def reminder_template_validate(source: str) -> None:
    """Refuse (ValidationError) a template that does not compile, or that fails or runs too long
    when rendered against a sample case in each of the desk's languages."""
    try:
        template = reminder_template(source)
    except ReminderTemplateError as error:
        raise ValidationError(_("The template does not compile: %(error)s") % {"error": error}) from error
    used, defined = reminder_template_variables(template)
    unknown = sorted(used - defined - set(VARIABLE_MEANINGS))
    if unknown:
        raise ValidationError(
            _("The template uses %(unknown)s, which a reminder does not know: it may use %(known)s.")
            % {
                "unknown": ", ".join(f"{{{{ {name} }}}}" for name in unknown),
                "known": ", ".join(VARIABLE_MEANINGS),
            }
        )
    for language in LANGUAGES:
        with translation.override(language):
            try:
                reminder_render(template, reminder_context(**SAMPLE_CASE))
            except ReminderTemplateError as error:
                raise ValidationError(
                    _("The template cannot be rendered (%(language)s): %(error)s")
                    % {"language": language, "error": error}
                ) from error


def reminder_preview(*, template_zh: str, template_en: str) -> list[tuple[str, str, str]]:
    """The step's reminder for the sample case, as the borrower would read it in each of the desk's
    languages: (language, text, problem). The Chinese text in Chinese; the English text in English,
    or the Chinese one when the step has none (as collection.messaging picks). Nothing is saved."""
    rendered = []
    for language, source in (("zh-hans", template_zh), ("en", template_en or template_zh)):
        with translation.override(language):
            try:
                reminder_template_validate(source)
                text = reminder_render(reminder_template(source), reminder_context(**SAMPLE_CASE))
            except ValidationError as error:
                rendered.append((language, "", " ".join(error.messages)))
            else:
                rendered.append((language, text, ""))
    return rendered
