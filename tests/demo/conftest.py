import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

AS_OF = datetime.date(2026, 11, 30)
DESK_LOANS = 3000
DESK_SEED = 7


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    """The demo logins file goes to a temporary var/, never the developer's."""
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture(scope="module")
def worked_desk(django_db_setup, django_db_blocker, tmp_path_factory):
    """A desk seeded once for the module (with the nightly cycle of the day, as seed_demo runs
    it), rolled back when the module is done; its tests (which also take `db`) read it inside
    their own transactions. Returns the command's output."""
    from django.conf import settings

    with django_db_blocker.unblock(), transaction.atomic():
        var_dir, settings.VAR_DIR = settings.VAR_DIR, tmp_path_factory.mktemp("var")
        try:
            out = StringIO()
            call_command(
                "seed_demo",
                "--loans",
                str(DESK_LOANS),
                "--seed",
                str(DESK_SEED),
                "--as-of",
                AS_OF.isoformat(),
                stdout=out,
                stderr=StringIO(),
            )
            yield out.getvalue()
        finally:
            settings.VAR_DIR = var_dir
            transaction.set_rollback(True)
