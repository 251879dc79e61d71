"""Where each person lands after logging in."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from . import roles


@require_GET
@login_required
def home(request):
    """Where each role lands after logging in: a collector on their queue, a supervisor on the
    escalations awaiting a decision (the admin's list until the supervisors' pages exist), an admin
    on the admin; anyone else on the portfolio overview."""
    held = roles.held_roles(request.user)
    if roles.COLLECTOR in held:
        return redirect("collection:queue")
    if roles.SUPERVISOR in held and request.user.is_staff:
        return redirect("admin:collection_escalationrequest_changelist")
    if roles.ADMIN in held and request.user.is_staff:
        return redirect("admin:index")
    return redirect("portfolio")
