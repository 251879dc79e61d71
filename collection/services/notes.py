"""Collectors' notes on their cases."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User

from ..access import case_access_check
from ..exceptions import CollectionError
from ..models import CaseNote, CollectionCase

__all__ = ["case_note_add"]

NOTE_MAX_LENGTH = 4000


@transaction.atomic
def case_note_add(*, case: CollectionCase, by: User, text: str) -> CaseNote:
    """Write a note on a case within `by`'s reach. A note is never edited or deleted: a correction
    is a new note."""
    if not by.has_perm("collection.add_casenote"):
        raise PermissionDenied(_("You may not write notes on cases."))
    case_access_check(case=case, by=by)
    text = (text or "").strip()
    if not text:
        raise CollectionError(_("The note is empty."))
    if len(text) > NOTE_MAX_LENGTH:
        raise CollectionError(
            _("A note holds at most %(most)s characters; this one has %(count)s.")
            % {"most": NOTE_MAX_LENGTH, "count": len(text)}
        )
    return CaseNote.objects.create(case=case, text=text, written_by=by)
