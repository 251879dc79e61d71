"""What the collection desk tells the apps built on it (legal), which connect in their own
AppConfig.ready: collection never imports them."""

from django.dispatch import Signal

# Sent by case_litigate, in its transaction, once the case is in litigation: `case` (the
# CollectionCase), `by` (who sent it), `reason`. A receiver that raises undoes the move.
case_entered_litigation = Signal()
