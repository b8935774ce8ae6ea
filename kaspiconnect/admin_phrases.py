"""Django admin's own phrases that Russian cannot build from a model's nominative name.

Django writes "{name} “{obj}” был успешно добавлен" for every model, whatever its gender
("Правило цены … был успешно добавлен"), and "Успешно удалены 5 товары". The project's catalogue
(locale/ru) is read before Django's, so these messages are given there in forms that read right for
any model: the name after a colon, in the nominative. They are listed here only so that
`makemessages` keeps them in the catalogue; nothing imports this module.
"""

from django.utils.translation import gettext_noop, ngettext_noop

PHRASES = [
    gettext_noop("The {name} “{obj}” was added successfully."),
    gettext_noop("The {name} “{obj}” was added successfully. You may add another {name} below."),
    gettext_noop("The {name} “{obj}” was changed successfully."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may edit it again below."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may add another {name} below."),
    gettext_noop("The %(name)s “%(obj)s” was deleted successfully."),
    gettext_noop("%(name)s with ID “%(key)s” doesn’t exist. Perhaps it was deleted?"),
    gettext_noop("Added {name} “{object}”."),
    gettext_noop("Changed {fields} for {name} “{object}”."),
    gettext_noop("Deleted {name} “{object}”."),
    gettext_noop("Successfully deleted %(count)d %(items)s."),
    gettext_noop("Delete selected %(verbose_name_plural)s"),
    gettext_noop("Cannot delete %(name)s"),
    gettext_noop("Add another %(verbose_name)s"),
    gettext_noop("Select %s"),
    gettext_noop('Are you sure you want to delete the %(object_name)s "%(escaped_object)s"? All of the following '
                 "related items will be deleted:"),
    gettext_noop("Are you sure you want to delete the selected %(objects_name)s? All of the following objects and "
                 "their related items will be deleted:"),
    gettext_noop("Deleting the %(object_name)s '%(escaped_object)s' would require deleting the following protected "
                 "related objects:"),
    gettext_noop("Deleting the %(object_name)s '%(escaped_object)s' would result in deleting related objects, but your "
                 "account doesn't have permission to delete the following types of objects:"),
    gettext_noop("Deleting the selected %(objects_name)s would result in deleting related objects, but your account "
                 "doesn't have permission to delete the following types of objects:"),
    gettext_noop("Deleting the selected %(objects_name)s would require deleting the following protected related "
                 "objects:"),
    ngettext_noop("%(count)s %(name)s was changed successfully.", "%(count)s %(name)s were changed successfully."),
]
