import datetime
import itertools

import factory
from django.utils import timezone

from collection.machine import Stage
from collection.models import CollectionCase
from legal.machine import LegalState
from legal.models import Court, LawFirm, LegalCase
from tests.collection.factories import CaseFactory

_numbers = itertools.count(1)


class CourtFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Court

    name = factory.Sequence(lambda n: f"上海市浦东新区人民法院 {n}")
    city = "上海"


class LawFirmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LawFirm

    name = factory.Sequence(lambda n: f"Firm {n} 律师事务所")


def legal_case_in(state: str = LegalState.PREPARING, **case_kwargs) -> LegalCase:
    """A legal case put straight into `state`, on a collection case in litigation (the desk's
    team and collector's unless told otherwise), for tests of what happens from there."""
    case = CaseFactory(**case_kwargs)
    CollectionCase.objects.filter(pk=case.pk).update(stage=Stage.LITIGATION)
    case.refresh_from_db()
    legal_case = LegalCase.objects.create(
        case=case, opened_at=timezone.now(), limitation_from=datetime.date(2026, 3, 15), state=state
    )
    return legal_case
