"""Django's system checks pass on the project as configured for the tests: an admin, a model or a
setting that Django would refuse at start-up fails here rather than on the first deploy."""

from django.core.management import call_command


def test_the_system_checks_find_no_error(db):
    # Raises SystemCheckError on any error (the admin's inlines, the models' fields, the URLs).
    call_command("check", "--database", "default")
