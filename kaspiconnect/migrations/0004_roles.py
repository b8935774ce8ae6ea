"""The shop's roles as groups; superusers keep everything. Run again, it adds what a role lacks and
takes nothing from a group someone has changed by hand."""

from django.db import migrations

from kaspiconnect.migrations import _roles

ROLES = {
    # The catalogue, prices, rules, stores and the feed: no orders, no buyers' data.
    "Менеджеры": [
        "catalog.view_product", "catalog.change_product", "catalog.confirm_price", "catalog.view_pricechange",
        "catalog.view_pricingrule", "catalog.add_pricingrule", "catalog.change_pricingrule",
        "catalog.delete_pricingrule", "catalog.view_store", "catalog.add_store", "catalog.change_store",
        "catalog.view_city", "catalog.add_city", "catalog.change_city", "catalog.view_category",
        "catalog.change_category", "catalog.view_brand", "feeds.view_feedrun", "feeds.build_feed",
        "feeds.override_guard", "feeds.view_feed_url", "feeds.view_feedfetch", "jobs.view_jobrun",
        "monitoring.view_alert",
    ],
    # Orders: reading them with the buyers' data, and asking for status changes.
    "Заказы": [
        "orders.view_order", "orders.view_customer_data", "orders.view_orderevent", "orders.view_statuschange",
        "orders.add_statuschange", "catalog.view_product", "jobs.view_jobrun", "monitoring.view_alert",
    ],
    # Decisions: approving what goes to Kaspi, and letting a held price or feed through.
    "Старшие": [
        "orders.view_order", "orders.view_customer_data", "orders.view_orderevent", "orders.view_statuschange",
        "orders.add_statuschange", "orders.approve_statuschange", "catalog.view_product", "catalog.confirm_price",
        "feeds.view_feedrun", "feeds.override_guard", "jobs.view_jobrun", "monitoring.view_alert",
    ],
}


def create_roles(apps, schema_editor):
    _roles.grant(apps, ROLES)


class Migration(migrations.Migration):

    dependencies = [
        ("kaspiconnect", "0003_alert_moves_to_monitoring"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0004_syncrun_moves_to_jobs"),
        ("orders", "0006_roles_permissions"),
        ("feeds", "0003_roles_permissions"),
        ("jobs", "0004_runs_named_by_job"),
        ("monitoring", "0003_alerts_keyed_by_job"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
    ]
