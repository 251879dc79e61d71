"""Days past due, read rather than stored.

A loan stores the last day of grace of its oldest unpaid installment (`grace_ends_on`); the
portfolio stores the day it was last aged (the last finished `AgeingRun`). A loan's days past due
are the days from the one to the other, so a day passing changes no loan row: only the loans that
cross a bucket's edge, or whose schedule or payments change, are written.

`DaysPastDueField` makes that count a field of the loan like any other: it has no column, and
wherever a query names it (`filter(days_past_due__gt=0)`, `values_list("days_past_due")`,
`order_by`, `loan__days_past_due` from a case) the database computes it. It cannot be written.
Filters over many loans should name `grace_ends_on` instead, which is indexed: DPD >= n on day d
is `grace_ends_on <= d - n` (loans.selectors.days_past_due_at_least)."""

from django.db import models
from django.db.models import F
from django.db.models.expressions import Col
from django.utils import timezone
from django.utils.functional import cached_property

from .dialect import SqlDialect

# The portfolio's day: the day of the last ageing run that finished (loans.selectors.ageing_run_last).
PORTFOLIO_DAY_SQL = "SELECT as_of FROM loans_ageingrun WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"


def portfolio_day_sql(connection) -> tuple[str, list]:
    """SQL for the portfolio's day; before any ageing run has finished, today in the desk's time zone."""
    today = connection.ops.adapt_datefield_value(timezone.localdate())
    return f"COALESCE(({PORTFOLIO_DAY_SQL}), {SqlDialect(connection.vendor).date_parameter})", [today]


class DaysPastDueCol(Col):
    """The days past due of the loan at `alias`: from its grace's end to the portfolio's day, not below 0."""

    def as_sql(self, compiler, connection):
        sql = SqlDialect(connection.vendor)
        column = self.target.model._meta.get_field("grace_ends_on").column
        names = (self.alias, column) if self.alias else (column,)
        grace_ends_on = ".".join(compiler.quote_name_unless_alias(name) for name in names)
        day, params = portfolio_day_sql(connection)
        return f"COALESCE({sql.greatest(sql.days_between(day, grace_ends_on), '0')}, 0)", params


class DaysPastDueField(models.PositiveIntegerField):
    """The loan's days past due, computed by the database when read (DaysPastDueCol); no column."""

    generated = True  # never inserted or updated
    db_returning = False

    def __init__(self, *args, **kwargs):
        kwargs["editable"] = False
        kwargs["blank"] = True
        super().__init__(*args, **kwargs)
        # What the count is derived from, for Django's checks of generated fields.
        self.expression = F("grace_ends_on")

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        kwargs.pop("blank", None)
        return name, path, args, kwargs

    def db_type(self, connection):
        return None  # no column

    def get_col(self, alias, output_field=None):
        return DaysPastDueCol(alias, self, output_field)

    @cached_property
    def cached_col(self):
        return DaysPastDueCol(self.model._meta.db_table, self)
