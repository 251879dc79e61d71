import re

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import roles

# Han characters (the CJK ideograph blocks and their extensions): a name written in them is
# written family name first, without a space (朱建国).
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def _is_han(text: str) -> bool:
    return _HAN.search(text) is not None


class User(AbstractUser):
    """A person working the desk. What they may do comes from their role groups."""

    phone_extension = models.CharField(_("phone extension"), max_length=20, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        full_name = self.get_full_name()
        return f"{full_name} ({self.username})" if full_name else self.username

    def get_full_name(self) -> str:
        """A Chinese name family name first and without a space (朱建国); a name in Latin
        letters given name first (Wei Zhu)."""
        family, given = self.last_name.strip(), self.first_name.strip()
        if _is_han(family) or _is_han(given):
            return f"{family}{given}"
        return f"{given} {family}".strip()

    def get_short_name(self) -> str:
        """A Chinese name in full, as colleagues address each other at work; otherwise the given name."""
        if _is_han(self.last_name) or _is_han(self.first_name):
            return self.get_full_name()
        return super().get_short_name()

    def has_role(self, role: str) -> bool:
        return self.groups.filter(name=role).exists()

    @property
    def role_names(self) -> list[str]:
        """The labels of the user's roles. Reads `groups.all()`, so a prefetch of the groups
        (as the user admin's list does) serves it without a query per user."""
        return [str(roles.ROLE_LABELS.get(group.name, group.name)) for group in self.groups.all()]


class Team(models.Model):
    """A supervisor's team of collectors; new cases are spread over its members."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("supervisor"),
        on_delete=models.PROTECT,
        related_name="supervised_teams",
        null=True,
        blank=True,
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="teams", blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name
