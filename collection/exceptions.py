"""Errors the collection services raise, with what a user needs to know."""

import datetime

from django.utils.translation import gettext as _


class CollectionError(Exception):
    """A business action that cannot be done; the message says why."""

    code = "collection_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StaleCase(CollectionError):
    """Someone else changed the case first."""

    code = "stale"

    def __init__(self):
        super().__init__(_("Someone else changed this case a moment ago. Reload it and try again."))


class ApprovalRequired(CollectionError):
    code = "approval_required"


class ConductViolation(CollectionError):
    """An attempt the conduct limits forbid: which rule, and when contact would next be allowed
    (None when it never will be on this contact and channel)."""

    code = "conduct_violation"

    def __init__(self, rule: str, message: str, next_allowed_at: datetime.datetime | None = None):
        super().__init__(message)
        self.rule = rule
        self.next_allowed_at = next_allowed_at
