"""The roles take what the money work added: the managers import price lists and spreadsheets, the
seniors read the reports, keep the commission table and may sell below cost."""

from django.db import migrations

from kaspiconnect.migrations import _roles

ROLES = {
    "Менеджеры": [
        "catalog.view_pricelistimport", "catalog.add_pricelistimport", "catalog.change_pricelistimport",
        "catalog.view_listedoffer", "catalog.change_listedoffer", "orders.view_commissionrate",
    ],
    "Заказы": ["orders.view_commissionrate"],
    "Старшие": [
        "reports.view_reports", "catalog.sell_below_cost", "orders.view_commissionrate",
        "orders.add_commissionrate", "orders.change_commissionrate", "orders.delete_commissionrate",
    ],
}


def grant(apps, schema_editor):
    _roles.grant(apps, ROLES)


class Migration(migrations.Migration):

    dependencies = [
        ("kaspiconnect", "0004_roles"),
        ("catalog", "0007_kaspi_pricelist"),
        ("orders", "0008_line_money_backfill"),
        ("reports", "0001_report_permission"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
