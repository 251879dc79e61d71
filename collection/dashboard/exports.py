"""The dashboard's tables as CSV, streamed (StreamingHttpResponse) row by row. A spreadsheet runs a
cell that starts with = + - @ (or a tab or carriage return) as a formula: such a text cell is
written with a leading apostrophe. Numbers are written as numbers."""

import csv
import datetime
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _

from .selectors import DeskNumbers

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell) -> object:
    """`cell` safe to open in a spreadsheet: text starting like a formula gets a leading apostrophe."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, int | float | Decimal):
        return cell
    if isinstance(cell, datetime.datetime | datetime.date):
        return cell.isoformat()
    text = str(cell)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file that hands back what is written to it: csv.writer writes a row, the stream yields it."""

    def write(self, value: str) -> str:
        return value


def csv_rows(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # Excel reads UTF-8 (Chinese names) with the byte order mark
    yield writer.writerow([neutralised(cell) for cell in header])
    for row in rows:
        yield writer.writerow([neutralised(cell) for cell in row])


def _rate(value: Decimal | None):
    return None if value is None else round(value, 4)


def table(numbers: DeskNumbers, name: str) -> tuple[list[str], Iterable[list]]:
    """The header and rows of the dashboard's table `name` (forms.EXPORTS)."""
    if name == "buckets":
        return (
            [_("Bucket"), _("Snapshot of"), _("Loans"), _("Total outstanding"), _("Overdue amount")],
            (
                [row["bucket"], row["as_of"], row["loans"], row["outstanding"], row["overdue"]]
                for row in numbers.buckets
            ),
        )
    if name == "roll_rates":
        return (
            [_("Month"), _("From bucket"), _("To bucket"), _("Roll rate")],
            (
                [month["month"].strftime("%Y-%m"), roll["from"], roll["to"], _rate(roll["rate"])]
                for month in numbers.roll_rates
                for roll in month["rolls"]
            ),
        )
    if name == "rates":
        return (
            [_("Figure"), _("Value"), _("Numerator"), _("Denominator")],
            [
                [_("Cure rate"), _rate(numbers.cure_rate), numbers.cases["resolved"], numbers.cases["open_in_period"]],
                [
                    _("Recovery rate"),
                    _rate(numbers.recovery_rate),
                    numbers.collected["total"],
                    numbers.recovery["overdue"],
                ],
                [
                    _("Right-party-contact rate"),
                    _rate(numbers.rpc_rate),
                    numbers.attempts["right_party"],
                    numbers.attempts["attempts"],
                ],
                [
                    _("Promise-to-pay rate"),
                    _rate(numbers.ptp_rate),
                    numbers.promises["taken"],
                    numbers.attempts["right_party"],
                ],
                [
                    _("Promise-kept rate"),
                    _rate(numbers.kept_rate),
                    numbers.promises["kept"],
                    numbers.promises["settled"],
                ],
                [
                    _("Attempts per account"),
                    _rate(numbers.attempts_per_account),
                    numbers.attempts["attempts"],
                    numbers.cases["open_in_period"],
                ],
            ],
        )
    if name in ("by_stage", "by_channel"):
        return (
            [_("Stage") if name == "by_stage" else _("Channel"), _("Payments"), _("Amount")],
            ([line["label"], line["payments"], line["amount"]] for line in numbers.collected[name]),
        )
    if name == "messages":
        return (
            [_("Channel"), _("Sent"), _("Blocked"), _("Failed"), _("Queued")],
            ([row["label"], row["sent"], row["blocked"], row["failed"], row["queued"]] for row in numbers.messages),
        )
    if name == "refusals":
        return (
            [_("Conduct rule"), _("Rule code"), _("Refused attempts"), _("Cases")],
            ([row["label"], row["rule"], row["refusals"], row["cases"]] for row in numbers.refusals),
        )
    if name == "jobs":
        return (
            [_("Job"), _("As of"), _("Status"), _("Started at"), _("Finished at"), _("Errors")],
            (
                [
                    run.get_job_display(),
                    run.as_of,
                    run.get_status_display(),
                    run.started_at,
                    run.finished_at,
                    run.errors,
                ]
                for run in numbers.job_runs
            ),
        )
    raise LookupError(name)


def csv_response(numbers: DeskNumbers, name: str) -> StreamingHttpResponse:
    header, rows = table(numbers, name)
    period = numbers.period
    filename = f"dashboard-{name}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    response = StreamingHttpResponse(csv_rows(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
