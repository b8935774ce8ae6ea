"""The run rows move from the catalogue to jobs: the same table (catalog_syncrun), only the model's home changes."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("catalog", "0003_price_lock_source"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
            name='JobRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('catalog', 'supplier catalogue'), ('stock', 'supplier stock and prices'), ('orders', 'Kaspi orders'), ('statuses', 'status push')], db_index=True, max_length=16, verbose_name='kind')),
                ('started', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='started')),
                ('finished', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                ('outcome', models.CharField(choices=[('running', 'running'), ('ok', 'ok'), ('failed', 'failed')], default='running', max_length=16, verbose_name='outcome')),
                ('received', models.PositiveIntegerField(default=0, verbose_name='received')),
                ('created', models.PositiveIntegerField(default=0, verbose_name='created')),
                ('updated', models.PositiveIntegerField(default=0, verbose_name='updated')),
                ('unchanged', models.PositiveIntegerField(default=0, verbose_name='unchanged')),
                ('skipped', models.PositiveIntegerField(default=0, verbose_name='skipped')),
                ('vanished', models.PositiveIntegerField(default=0, verbose_name='vanished')),
                ('requests', models.PositiveIntegerField(default=0, verbose_name='requests')),
                ('error', models.TextField(blank=True, verbose_name='error')),
                ('notes', models.TextField(blank=True, verbose_name='notes')),
            ],
            options={
                'verbose_name': 'job run',
                'verbose_name_plural': 'job runs',
                'db_table': 'catalog_syncrun',
                'ordering': ['-started'],
            },
        ),
            ],
            database_operations=[],
        ),
    ]
