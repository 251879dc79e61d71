from django import template

register = template.Library()


@register.filter
def shortcut(field, key: str):
    """Render a form field that the keyboard shortcut `key` focuses (static/desk/js/desk.js)."""
    return field.as_widget(attrs={"data-shortcut": key, "aria-keyshortcuts": key})
