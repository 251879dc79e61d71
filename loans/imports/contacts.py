"""The contacts file: phones, emails and addresses of stored borrowers."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..models import Borrower, Contact
from ..phones import mask_phone, normalise_contact_value
from .base import Row, _count, _Importer


class _ContactImporter(_Importer):
    """Contacts of borrowers already stored, the value normalised (phones to E.164). A contact is
    found by borrower and value. For a stored contact the kind, name and relation must match;
    verification, do-not-contact and opt-outs are the desk's own record once a contact exists
    (collectors mark wrong numbers, borrowers opt out), so a re-import neither compares nor
    overwrites them."""

    kind = "contacts"
    models = (Contact,)
    key_column = "value"
    COMPARED = ("kind", "name", "relation")
    FIELDS = (
        "kind",
        "name",
        "relation",
        "verification",
        "do_not_contact",
        "opt_out_call",
        "opt_out_sms",
        "opt_out_email",
        "source",
    )

    def key_of(self, values: dict[str, object]) -> object:
        key = (values["national_id"], values["value"])
        return None if None in key else key

    def repeated(self, values: dict[str, object], first: int) -> str:
        return _("%(value)s of this borrower is already on line %(first)s") % {"value": _shown(values), "first": first}

    def parse(self, line: int, record: list[str]) -> Row:
        row = super().parse(line, record)
        values = row.values
        if values["kind"] is not None and values["value"] is not None:
            try:
                values["value"] = normalise_contact_value(values["kind"], values["value"])
            except ValidationError as error:
                self.error(line, "value", error.messages[0])
                values["value"] = None
                row.valid = False
        return row

    def process_chunk(self, rows: list[Row]) -> None:
        national_ids = {row.values["national_id"] for row in rows if row.valid}
        contact_values = {row.values["value"] for row in rows if row.valid}
        borrowers = {
            borrower.national_id: borrower
            for borrower in Borrower.objects.filter(national_id__in=national_ids).only("id", "national_id")
        }
        stored_contacts = {
            (contact.borrower.national_id, contact.value): contact
            for contact in Contact.objects.filter(
                borrower__in=[borrower.pk for borrower in borrowers.values()], value__in=contact_values
            ).select_related("borrower")
        }
        new_contacts: list[Contact] = []
        for row in self.rows_to_import(rows):
            values = row.values
            borrower = borrowers.get(values["national_id"])
            stored = stored_contacts.get((values["national_id"], values["value"]))
            if borrower is None:
                self.error(
                    row.line,
                    "national_id",
                    _("there is no borrower with this national ID (import the loans file first)"),
                )
            elif stored is None:
                new_contacts.append(
                    Contact(borrower=borrower, value=values["value"], **{name: values[name] for name in self.FIELDS})
                )
            elif self.same_contact(row, stored):
                _count(self.result.skipped, Contact)

        self.write(rows, lambda: Contact.objects.bulk_create(new_contacts))
        _count(self.result.created, Contact, len(new_contacts))

    def same_contact(self, row: Row, stored: Contact) -> bool:
        label = _("contact %(value)s") % {"value": _shown(row.values)}
        return self.same_where_filled(row.line, label, stored, row.values, [(name, name) for name in self.COMPARED])


def _shown(values: dict[str, object]) -> str:
    """The contact's value as a message shows it: a phone number masked."""
    return values["value"] if values["kind"] == Contact.Kind.EMAIL else mask_phone(values["value"])
