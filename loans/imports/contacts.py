"""The contacts file: phones, emails and addresses of stored borrowers."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..models import Borrower, Contact
from ..phones import normalise_contact_value
from .base import Row, _count, _Importer


class _ContactImporter(_Importer):
    """Contacts of borrowers already stored, the value normalised (phones to E.164). A contact is
    found by borrower and value. For a stored contact the kind, name and relation must match;
    verification, do-not-contact and opt-outs are the desk's own record once a contact exists
    (collectors mark wrong numbers, borrowers opt out), so a re-import neither compares nor
    overwrites them."""

    kind = "contacts"
    models = (Contact,)
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

    def __init__(self, result, **kwargs):
        super().__init__(result, **kwargs)
        self.contact_lines: dict[tuple[str, str], int] = {}

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
        for row in rows:
            values = row.values
            key = (values["national_id"], values["value"])
            if None not in key:
                first = self.contact_lines.setdefault(key, row.line)
                if first != row.line:
                    self.error(
                        row.line,
                        "value",
                        _("%(value)s of this borrower is already on line %(first)s")
                        % {"value": values["value"], "first": first},
                    )
                    continue
            if not row.valid:
                continue
            borrower = borrowers.get(values["national_id"])
            if borrower is None:
                self.error(
                    row.line,
                    "national_id",
                    _("there is no borrower with this national ID (import the loans file first)"),
                )
                continue
            stored = stored_contacts.get(key)
            if stored is not None:
                label = _("contact %(value)s") % {"value": values["value"]}
                if self.same_where_filled(row.line, label, stored, values, [(n, n) for n in self.COMPARED]):
                    _count(self.result.skipped, Contact)
                continue
            new_contacts.append(
                Contact(borrower=borrower, value=values["value"], **{name: values[name] for name in self.FIELDS})
            )

        self.write(rows, lambda: Contact.objects.bulk_create(new_contacts))
        _count(self.result.created, Contact, len(new_contacts))
