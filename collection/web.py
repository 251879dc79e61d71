"""What every page of the workspace shares: the one place that turns a service's refusal into words
a person understands, the one way a page reads a case (within reach, or 404), and the run of a
form through its service."""

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .conduct import conduct_rule_label
from .exceptions import CollectionError, ConductViolation
from .models import CollectionCase
from .selectors import case_for_user

# What a service may refuse with; anything else is a fault and shows the error page. (A transition
# not allowed now, or lost to someone else's, reaches here as a CollectionError or StaleCase: the
# machine's runner, collection.fsm, says so in words.)
SERVICE_REFUSALS = (CollectionError, PermissionDenied, ValidationError)


def refusal_message(error: Exception) -> str:
    """A service's refusal in words: what was refused and, where the service says, what to do."""
    if isinstance(error, ConductViolation):  # its message says when contact is next allowed, if ever
        return _("Refused by the conduct limits (%(rule)s): %(why)s") % {
            "rule": conduct_rule_label(error.rule),
            "why": error.message,
        }
    if isinstance(error, CollectionError):
        return error.message
    if isinstance(error, PermissionDenied):
        return str(error) or _("You may not do this on this case.")
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    raise TypeError(f"not a service refusal: {error!r}")


def case_or_404(request, pk: int) -> CollectionCase:
    """The case `pk` when it is within the user's reach; 404 otherwise, whether it does not exist or
    is someone else's (a page never tells which cases exist outside one's reach)."""
    try:
        return case_for_user(user=request.user, pk=pk)
    except (CollectionCase.DoesNotExist, PermissionDenied) as error:
        raise Http404(_("No such case among yours.")) from error


def form_run(request, form, action: Callable[[dict], object], *, done: str | Callable[[object], str]):
    """Validate `form` and hand its data to `action` (a service call). On success, say `done` (or
    what `done(result)` says) and return the result; on a refusal, put the service's words on the
    form (beside the fields a ValidationError names, when the form has them) and return None. A
    refused conduct check is kept by the service itself."""
    if not form.is_valid():
        return None
    try:
        result = action(form.cleaned_data)
    except SERVICE_REFUSALS as error:
        if (
            isinstance(error, ValidationError)
            and hasattr(error, "error_dict")
            and set(error.error_dict) <= set(form.fields)
        ):
            form.add_error(None, error)  # the service named the fields at fault: its words go beside them
        else:
            form.add_error(None, refusal_message(error))
        return None
    messages.success(request, done(result) if callable(done) else done)
    return result if result is not None else True


def back_to_case(case: CollectionCase, query: dict | None = None):
    """Back to the case page after an action (and its query, e.g. a hold to offer)."""
    response = redirect("collection:case", pk=case.pk)
    if query:
        response["Location"] += f"?{urlencode(query)}"
    return response


def query_without(query: QueryDict, *names: str) -> QueryDict:
    """A page's query string less `names` (the page number, an export...), for its links."""
    kept = query.copy()
    for name in names:
        kept.pop(name, None)
    return kept


def url_with_query(name: str, query: QueryDict) -> str:
    """The URL named `name` with `query` (a list's filters) when there is one."""
    target = reverse(name)
    return f"{target}?{query.urlencode()}" if query else target
