"""The one way a page requires a role (the server decides; a hidden button is never the protection)."""

import functools

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404

from . import roles


def has_any_role(user, wanted) -> bool:
    """Whether `user` holds one of the `wanted` roles; a superuser counts as an admin."""
    return not roles.held_roles(user).isdisjoint(wanted)


def role_required(*wanted: str, hidden: bool = False):
    """A view for the holders of one of `wanted` (accounts.roles): a visitor not logged in is sent to
    the login page, a user without the role is refused (403), or, for a `hidden` page (the
    supervisors' pages, say), told it does not exist (404)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_any_role(request.user, wanted):
                raise Http404 if hidden else PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_roles = frozenset(wanted)
        return wrapped

    return decorator
