"""Changes to a borrower's contacts that decide who the desk reaches: the kind (the borrower's own
or a third party's), the owner, the number, its verification, do-not-contact and the opt-outs.
They change only here, with a reason, on the version the user saw, and each is recorded with its
old and new values (loans.ContactChange). The name, relation and source are plain data, edited
in the admin."""

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_change
from accounts.models import User
from loans.models import Borrower, Contact, ContactChange

from ..access import borrowers_visible_to, contacts_visible_to
from ..exceptions import CollectionError

__all__ = [
    "StaleContact",
    "borrower_lost_contact_set",
    "contact_add",
    "contact_add_check",
    "contact_change_record",
    "contact_update",
]


class StaleContact(CollectionError):
    """The contact changed since the user read it."""

    code = "stale_contact"


def contact_update(*, contact: Contact, by: User, reason: str, expected_version: int, **changes) -> Contact:
    """Change the contact's protected fields (Contact.PROTECTED_FIELDS; `borrower` a Borrower or
    its id) for `reason`, if `expected_version` is still the contact's version: a change made on
    an older copy (a form left open while a collector recorded "do not contact") is refused, not
    saved over the newer one. The contact must be within `by`'s cases (and so must a new owner).
    Clearing do-not-contact or an opt-out needs `loans.clear_do_not_contact`; making a third
    party's contact the borrower's own kind, or giving the contact to another borrower, needs
    `loans.make_contact_own` (a supervisor's): a relative's number re-kinded as "own mobile" would
    be sent the debt's reminders. Records the old and new values; returns the contact as saved
    (unchanged, and nothing recorded, when nothing differs)."""
    unknown = set(changes) - set(Contact.PROTECTED_FIELDS)
    if unknown:
        raise TypeError(f"contact_update cannot change {sorted(unknown)}")
    if not by.has_perm("loans.change_contact"):
        raise PermissionDenied(_("You may not change contacts."))
    reason = (reason or "").strip()
    if not reason:
        raise CollectionError(_("Say why the contact changes."))

    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if not contacts_visible_to(by, Contact.objects.filter(pk=locked.pk)).exists():
            raise PermissionDenied(_("This contact is not of a case of yours."))
        if locked.version != expected_version:
            raise StaleContact(
                _(
                    "Someone changed this contact after you opened it (it is at version %(current)s, you "
                    "changed version %(expected)s): reload it and make your change again."
                )
                % {"current": locked.version, "expected": expected_version}
            )
        if "borrower" in changes:
            borrower = changes.pop("borrower")
            changes["borrower_id"] = borrower.pk if isinstance(borrower, Borrower) else int(borrower)

        before = {field: getattr(locked, field) for field in changes}
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.full_clean(exclude=["borrower"])  # normalises the number; the owner is checked below
        diff = {
            field.removesuffix("_id"): [before[field], getattr(locked, field)]
            for field in changes
            if before[field] != getattr(locked, field)
        }
        if not diff:
            return locked

        _check_authority(by=by, contact=locked, diff=diff)
        locked.version += 1
        try:
            with transaction.atomic():
                locked.save(update_fields=[*changes, "version", "updated_at"])
        except IntegrityError as error:
            raise CollectionError(_("The borrower already has this number or address.")) from error
        contact_change_record(contact=locked, by=by, reason=reason, diff=diff)
    return locked


def contact_add(*, contact: Contact, by: User, reason: str) -> Contact:
    """Add `contact` (built, not yet saved) to its borrower, for `reason`: the borrower must be of
    a case within `by`'s reach, the number is normalised, and the addition is recorded with its
    values (loans.ContactChange, version 1), as a change is. Nobody adds a number to a borrower
    they do not work: an "own mobile" put on someone else's borrower would be sent that debt's
    reminders."""
    contact_add_check(borrower_id=contact.borrower_id, by=by, reason=reason)
    contact.full_clean(exclude=["version"])
    contact.version = 1
    with transaction.atomic():
        try:
            with transaction.atomic():
                contact.save()
        except IntegrityError as error:
            raise CollectionError(_("The borrower already has this number or address.")) from error
        diff = {field: [None, getattr(contact, field)] for field in ("kind", "value", "verification", *Contact.FLAGS)}
        contact_change_record(contact=contact, by=by, reason=reason, diff=diff)
    return contact


def borrower_lost_contact_set(*, borrower: Borrower, by: User, lost: bool, reason: str) -> Borrower:
    """Mark the borrower as lost contact (no known contact reaches them) or found again, for
    `reason`, on a borrower of `by`'s cases. While the borrower is lost, the conduct limits let
    collectors ask third parties for the borrower's whereabouts (never about the debt); finding
    them again closes that door. Recorded in the audit trail with the reason."""
    if not by.has_perm("loans.change_contact"):
        raise PermissionDenied(_("You may not change what the desk knows of a borrower's contacts."))
    reason = (reason or "").strip()
    if not reason:
        raise CollectionError(_("Say why the borrower is marked lost or found."))
    with transaction.atomic():
        locked = Borrower.objects.select_for_update().get(pk=borrower.pk)
        if not borrowers_visible_to(by, Borrower.objects.filter(pk=locked.pk)).exists():
            raise PermissionDenied(_("This borrower is not of a case of yours."))
        if locked.lost_contact == lost:
            return locked
        since = timezone.localdate() if lost else None
        changes = {
            "lost_contact": (locked.lost_contact, lost),
            "lost_contact_since": (locked.lost_contact_since, since),
        }
        # An UPDATE, not save(): the audit entry is written here, once, with the reason.
        Borrower.objects.filter(pk=locked.pk).update(lost_contact=lost, lost_contact_since=since)
        audit_change(locked, changes, by=by, reason=reason)
        locked.lost_contact, locked.lost_contact_since = lost, since
    return locked


def contact_add_check(*, borrower_id: int | None, by: User, reason: str) -> None:
    """Refuse (PermissionDenied, CollectionError) an addition contact_add would refuse, before a
    form is saved."""
    if not by.has_perm("loans.add_contact"):
        raise PermissionDenied(_("You may not add contacts."))
    if not (reason or "").strip():
        raise CollectionError(_("Say why the contact is added."))
    if borrower_id is None or not borrowers_visible_to(by, Borrower.objects.filter(pk=borrower_id)).exists():
        raise PermissionDenied(_("This borrower is not of a case of yours."))


def _check_authority(*, by: User, contact: Contact, diff: dict) -> None:
    cleared = [field for field in Contact.FLAGS if field in diff and diff[field] == [True, False]]
    if cleared and not by.has_perm("loans.clear_do_not_contact"):
        raise PermissionDenied(_("Only a supervisor may clear a do-not-contact flag or an opt-out."))
    if "borrower" in diff:
        if not by.has_perm("loans.make_contact_own"):
            raise PermissionDenied(_("Only a supervisor may give a contact to another borrower."))
        if not borrowers_visible_to(by, Borrower.objects.filter(pk=contact.borrower_id)).exists():
            raise PermissionDenied(_("The new borrower is not of a case of yours."))
    if "kind" in diff:
        old_kind, new_kind = diff["kind"]
        made_own = old_kind in Contact.THIRD_PARTY_KINDS and new_kind not in Contact.THIRD_PARTY_KINDS
        if made_own and not by.has_perm("loans.make_contact_own"):
            raise PermissionDenied(
                _("Only a supervisor may make a third party's contact the borrower's own: reminders would go to it.")
            )


def contact_change_record(*, contact: Contact, by: User, reason: str, diff: dict) -> ContactChange:
    """The record of a change already made to `contact` (whose `version` it produced): for the
    services that change a contact as a side effect (an attempt's outcome)."""
    return ContactChange.objects.create(
        contact=contact, changed_by=by, reason=reason, changes=_jsonable(diff), version=contact.version
    )


def _jsonable(diff: dict) -> dict:
    def plain(value):
        if value is None or isinstance(value, bool | int | str):
            return value
        return str(value)

    return {field: [plain(old), plain(new)] for field, (old, new) in diff.items()}
