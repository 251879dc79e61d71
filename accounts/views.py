"""Where each person lands after logging in."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from . import roles


@require_GET
@login_required
def home(request):
    """Where each role lands after logging in: a collector on their queue, a supervisor on the
    escalation requests awaiting their decision, an admin on the admin, a legal officer on the
    legal cases; anyone else on the portfolio overview."""
    held = roles.held_roles(request.user)
    if roles.COLLECTOR in held:
        return redirect("collection:queue")
    if roles.SUPERVISOR in held:
        return redirect("supervision:escalations")
    if roles.ADMIN in held and request.user.is_staff:
        return redirect("admin:index")
    if roles.LEGAL_OFFICER in held:
        return redirect("legal:queue")
    return redirect("portfolio")
