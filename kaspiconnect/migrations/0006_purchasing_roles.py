"""The roles take the supplier orders: the orders role sees them (and on the Kaspi order's page), the
seniors edit, merge, approve and cancel them at Al-Style."""

from django.db import migrations

from kaspiconnect.migrations import _roles

SEE = ["purchasing.view_supplierorder", "purchasing.view_supplierorderline", "purchasing.view_coverage",
       "purchasing.view_supplierorderevent"]
ROLES = {
    "Заказы": SEE,
    "Старшие": [*SEE, "purchasing.change_supplierorder", "purchasing.approve_supplierorder",
                "purchasing.cancel_supplierorder"],
}


def grant(apps, schema_editor):
    _roles.grant(apps, ROLES)


class Migration(migrations.Migration):

    dependencies = [
        ("kaspiconnect", "0005_money_roles"),
        ("purchasing", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
