"""The desk's conventions that every app shares: its day and its language.

The desk keeps time in its time zone (settings.TIME_ZONE, Asia/Shanghai) and speaks its language
(settings.LANGUAGE_CODE, Simplified Chinese) in what it stores and sends, whoever is logged in."""

import contextlib
import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone, translation


def desk_day_start(day: datetime.date, zone: ZoneInfo | None = None) -> datetime.datetime:
    """The moment `day` starts: midnight in `zone`, the desk's time zone unless another is given
    (a borrower's own, for the conduct limits)."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=zone or timezone.get_default_timezone())


@contextlib.contextmanager
def in_desk_language():
    """Text made inside is in the desk's language: the reasons and messages the desk stores or
    sends, written the same whoever runs the job or the page."""
    with translation.override(settings.LANGUAGE_CODE):
        yield
