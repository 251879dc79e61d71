"""legal's answers to what collection announces (collection.signals)."""

from .services import legal_case_open


def open_legal_case(sender, *, case, by, reason: str = "", **_kwargs) -> None:
    legal_case_open(case=case, by=by, reason=reason)
