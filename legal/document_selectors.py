"""Reads of the legal track's documents, within the reader's reach (legal.access)."""

from django.db.models import QuerySet

from .access import legal_cases_visible_to
from .models import LegalCase, LegalDocument

__all__ = ["documents_of", "documents_visible_to"]


def documents_visible_to(user) -> QuerySet[LegalDocument]:
    """The documents of the legal cases `user` may see, for those who may read documents at all
    (legal officers, supervisors of the case's team, admins); none for anyone else."""
    if not user.is_authenticated or not user.has_perm("legal.view_legaldocument"):
        return LegalDocument.objects.none()
    return LegalDocument.objects.filter(legal_case__in=legal_cases_visible_to(user).values("pk"))


def documents_of(*, legal_case: LegalCase, user) -> QuerySet[LegalDocument]:
    """A legal case's documents, newest first, with who added them."""
    return documents_visible_to(user).filter(legal_case=legal_case).select_related("uploaded_by", "template")
