from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo desk: users, teams, a portfolio and its worked history, all made up. It sits
    above every business app (it writes accounts, loans and collection rows and runs the nightly
    cycle), so nothing but its own command and the tests imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "demo"
