"""What the login lockout (django-axes) needs from the desk: the client's address as the trusted
proxy saw it, and the page a locked-out login gets."""

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip_behind_proxy(request: HttpRequest) -> str | None:
    """The address the desk's own reverse proxy connected from, as it appended it to
    X-Forwarded-For (the right-most entry): entries further left come from the client and can
    be made up. Only used when DESK_TRUSTED_PROXY says such a proxy is in front; without one,
    REMOTE_ADDR is the client."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-1] if hops else request.META.get("REMOTE_ADDR")


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """The page a locked-out login gets, on the desk's login and the admin's: what happened, for
    how long, and who can lift it. 429 Too Many Requests, as axes answers by default."""
    cool_off = get_cool_off(request)
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "cool_off_minutes": max(1, round(cool_off.total_seconds() / 60)) if cool_off else None,
    }
    return render(request, "registration/locked_out.html", context, status=429)
