"""Users and groups as Django gives them, with permissions named in the reader's language.

Django stores permission names in English when `migrate` creates them ("Can add product"); the
pickers of users and groups show each as "Товары: добавление", and the project's own permissions
by their translated names.
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

DEFAULT_ACTIONS = {"add": _("adding"), "change": _("changing"), "delete": _("deleting"), "view": _("viewing")}


def permission_label(permission):
    model = permission.content_type.model_class()
    if model is None:
        return gettext(permission.name)
    action = permission.codename.split("_", 1)[0]
    if permission.codename == f"{action}_{model._meta.model_name}" and action in DEFAULT_ACTIONS:
        what = DEFAULT_ACTIONS[action]
    else:
        what = gettext(permission.name)
    return f"{capfirst(model._meta.verbose_name_plural)}: {what}"


class PermissionLabels:
    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request=request, **kwargs)
        if db_field.name in ("permissions", "user_permissions"):
            field.label_from_instance = permission_label
        return field


class ShopGroupAdmin(PermissionLabels, GroupAdmin):
    pass


class ShopUserAdmin(PermissionLabels, UserAdmin):
    pass


# The dashboard lists every section; the sidebar repeating them took a fifth of a laptop's width from the lists.
admin.site.enable_nav_sidebar = False

admin.site.unregister(Group)
admin.site.register(Group, ShopGroupAdmin)
admin.site.unregister(User)
admin.site.register(User, ShopUserAdmin)
