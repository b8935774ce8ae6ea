"""Job alerts are keyed by the job's name in the registry; open ones keep their row under the new key."""

from django.db import migrations

RENAMED = {
    "sync-failing:catalog": "job:sync_products",
    "sync-failing:stock": "job:refresh_stock",
    "sync-failing:orders": "job:sync_orders",
    "feed-failing": "job:build_feed",
    "feed-held": "job:build_feed",  # a held build is now a failed run of the feed build
    "feed-not-fetched": "job:feed_fetched",
}


def rename(apps, schema_editor):
    Alert = apps.get_model("monitoring", "Alert")
    for old, new in RENAMED.items():
        if not Alert.objects.filter(key=new).exists():
            Alert.objects.filter(key=old).update(key=new)


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0002_keep_permissions"),
    ]

    operations = [
        migrations.RunPython(rename, migrations.RunPython.noop),
    ]
