"""Template tags that put a model's name into an admin phrase in the form Russian needs."""

from django import template
from django.utils.translation import gettext

from kaspiconnect import nouns

register = template.Library()


@register.filter
def accusative(opts):
    return nouns.accusative(opts)


@register.simple_tag
def counted(opts, count):
    return nouns.counted(opts, count)


@register.simple_tag(takes_context=True)
def form_title(context):
    """The change form's title: "Добавить категорию", "Изменить категорию" or "Просмотреть категорию".

    Pages that only borrow the change form's template (with no `add` in their context) keep their own.
    """
    if "add" not in context or "opts" not in context:
        return context.get("title", "")
    name = nouns.accusative(context["opts"])
    if context.get("add"):
        return gettext("Add %(name)s") % {"name": name}
    if context.get("has_change_permission"):
        return gettext("Change %(name)s") % {"name": name}
    return gettext("View %(name)s") % {"name": name}
