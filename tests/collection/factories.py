import factory

from collection.models import CollectionCase, ContactAttempt, PromiseToPay
from tests.loans.factories import LoanFactory


class CaseFactory(factory.django.DjangoModelFactory):
    """An open case in reminder on a loan with the default twelve-month schedule."""

    class Meta:
        model = CollectionCase

    loan = factory.SubFactory(LoanFactory)


def case_in(stage: str, **kwargs) -> CollectionCase:
    """A case put straight into a stage, for tests of what happens from there."""
    case = CaseFactory(**kwargs)
    CollectionCase.objects.filter(pk=case.pk).update(stage=stage)
    case.refresh_from_db()
    return case


class AttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactAttempt


class PromiseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromiseToPay
