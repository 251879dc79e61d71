"""`import_portfolio FILE.csv --by USERNAME --kind loans|schedule|payments|contacts [--encoding auto|utf-8|gb18030]`:
import one CSV file of the portfolio, all or nothing, as the user named by --by (formats in
docs/csv-formats.md)."""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from loans.imports import KINDS, portfolio_import, unsupported_encoding_message
from loans.imports.reader import UnsupportedEncoding, resolve_encoding
from loans.models import ImportRun


class Command(BaseCommand):
    help = (
        "Import a CSV file of loans, schedules, payments or contacts (docs/csv-formats.md). A file with any bad "
        "row imports nothing; importing the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file")
        parser.add_argument(
            "--by",
            required=True,
            metavar="USERNAME",
            help="the desk user the import is recorded as (active, allowed to import portfolio files); "
            "imported payments are recorded by them",
        )
        parser.add_argument("--kind", choices=KINDS, default="loans", help="what the file holds (default: loans)")
        parser.add_argument(
            "--encoding",
            default="auto",
            help="auto (default: UTF-8, with or without BOM, else GB18030/GBK), utf-8, gb18030 or another Python "
            "text codec in which commas and line breaks are ASCII (not utf-16, zlib, hex...)",
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        kind, encoding = options["kind"], options["encoding"]
        by = self.importing_user(options["by"])
        if encoding != "auto":
            try:
                resolve_encoding(encoding, b"")
            except UnsupportedEncoding as error:
                raise CommandError(unsupported_encoding_message(encoding)) from error
            except LookupError as error:
                raise CommandError(_("%(encoding)s is not a known encoding.") % {"encoding": encoding}) from error
        try:
            stream = path.open("rb")
        except OSError as error:
            raise CommandError(
                _("Cannot open %(path)s: %(reason)s.") % {"path": path, "reason": error.strerror}
            ) from error
        with (
            stream,
            tqdm(
                total=path.stat().st_size,
                unit="B",
                unit_scale=True,
                desc=f"{path.name} ({kind})",
                file=options.get("stderr") or sys.stderr,
                disable=options["verbosity"] == 0,
                leave=False,
            ) as bar,
        ):
            result = portfolio_import(
                stream=stream,
                kind=kind,
                by=by,
                encoding=encoding,
                progress=bar.update,
                file_name=path.name,
                file_size=path.stat().st_size,
                via=ImportRun.Via.COMMAND,
            )

        if not result.ok:
            for error in result.errors:
                self.stderr.write(str(error))
            if result.unreported_error_count:
                self.stderr.write(_("... and %(count)s more errors.") % {"count": result.unreported_error_count})
            raise CommandError(
                _("%(count)s error(s) in %(file)s (%(kind)s, read as %(encoding)s): nothing was imported.")
                % {"count": result.error_count, "file": path.name, "kind": kind, "encoding": result.encoding}
            )
        self.stdout.write(
            _("Imported %(file)s (%(kind)s, read as %(encoding)s): %(rows)s rows.")
            % {"file": path.name, "kind": kind, "encoding": result.encoding, "rows": result.rows},
            self.style.SUCCESS,
        )
        for what, created, skipped in result.summary():
            self.stdout.write(
                _("  %(what)s: %(created)s created, %(skipped)s skipped (already stored)")
                % {"what": what, "created": created, "skipped": skipped}
            )

    def importing_user(self, username: str):
        """The user --by names: active and allowed to import, else the command stops here."""
        user = get_user_model().objects.filter(username=username).first()
        if user is None or not user.is_active:
            raise CommandError(_("There is no active user %(username)s.") % {"username": username})
        if not user.has_perm("loans.import_portfolio"):
            raise CommandError(_("%(username)s is not allowed to import portfolio files.") % {"username": username})
        return user
