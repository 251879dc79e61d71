from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollectionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "collection"
    verbose_name = _("Collection")

    def ready(self):
        # The portfolio (loans) shows each user the borrowers, contacts and loans behind the cases
        # they may see; the rule is collection's, handed to loans here so loans never imports it.
        from loans.access import PortfolioScope, scope_register

        from . import access

        scope_register(
            PortfolioScope(
                sees_everything=access.sees_everything,
                borrowers=access.borrowers_visible_to,
                contacts=access.contacts_visible_to,
                loans=access.loans_visible_to,
            )
        )
