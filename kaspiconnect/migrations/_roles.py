"""Groups and their permissions, for the migrations that define the shop's roles."""

from django.contrib.auth.management import create_permissions


def grant(apps, roles):
    """Give each group (made when missing) its permissions; what a group has already is left as it is."""
    for app_config in apps.get_app_configs():  # the permissions exist before post_migrate makes them
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in roles.items():
        group, _ = Group.objects.get_or_create(name=name)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
