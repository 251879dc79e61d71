"""What the desk's admin pages share, for every app (accounts is the one every app may import)."""


class ViewOnlyAdmin:
    """A mixin for the admin of rows the desk's services write (money, logs, records): shown, never
    added, changed or deleted in the admin, by anyone, whatever permission a role holds."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
