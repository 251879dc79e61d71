from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LegalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "legal"
    verbose_name = _("Legal")

    def ready(self):
        # A collection case sent to litigation opens its legal case, in the same transaction:
        # collection announces the move and never imports legal.
        from collection.cycle import cycle_step_add
        from collection.signals import case_entered_litigation

        from . import letters  # noqa: F401 (registers the check of the letters' font)
        from .limitation import LIMITATION_STEP
        from .receivers import open_legal_case

        case_entered_litigation.connect(open_legal_case, dispatch_uid="legal.open_legal_case")
        # The nightly cycle flags the debts close to the end of their limitation period.
        cycle_step_add(LIMITATION_STEP)
