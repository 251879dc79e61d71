"""The admin of the legal track: the lists admins keep (courts, law firms) and the letter templates
legal officers render letters from. A letter template's text is checked when saved
(legal.validators.letter_template_validate: an unknown name is refused, named, on its field); the
names it may use are listed beside it. Documents are not edited here: they are added through the
services (legal.document_services), which check their content and record letters as contact
attempts."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .models import Court, LawFirm, LetterTemplate
from .validators import LETTER_VARIABLES


@admin.register(Court)
class CourtAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "city", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "city", "address")
    ordering = ("name",)


@admin.register(LawFirm)
class LawFirmAdmin(admin.ModelAdmin):
    list_display = ("name", "contact_person", "phone", "email", "active")
    list_filter = ("active",)
    search_fields = ("name", "contact_person", "email")
    ordering = ("name",)


@admin.register(LetterTemplate)
class LetterTemplateAdmin(admin.ModelAdmin):
    fieldsets = (
        (None, {"fields": ("kind", "name", "active")}),
        (_("Text"), {"fields": ("variables", "body_zh_hans", "body_en")}),
    )
    readonly_fields = ("variables",)
    list_display = ("name", "kind", "active", "updated_at")
    list_filter = ("kind", "active")
    search_fields = ("name", "body_zh_hans", "body_en")
    ordering = ("kind", "name")

    @admin.display(description=_("names a letter may use"))
    def variables(self, obj=None):
        return format_html(
            '<dl class="desk-variables">{}</dl>',
            format_html_join(
                "",
                "<dt><code>{{{{ {} }}}}</code></dt><dd>{}</dd>",
                ((name, meaning) for name, meaning in LETTER_VARIABLES.items()),
            ),
        )
