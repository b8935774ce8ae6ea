from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    """The table of the database cache django-q2's heartbeats go to (settings.CACHES["queue"]).

    `createcachetable` skips tables that exist, so this is safe on any database.
    """
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("kaspiconnect", "0001_initial")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
