# Supplier orders, their lines, the Kaspi lines they serve, and their history.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('catalog', '0008_product_export'),
        ('orders', '0009_entry_bought_units'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SupplierOrder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('proposed', 'proposed, awaiting approval'), ('approved', 'approved, queued'), ('sending', 'sending'), ('uncertain', 'no answer, checking'), ('held', 'held: needs a decision'), ('sent', 'sent to Al-Style'), ('failed', 'failed'), ('rejected', 'rejected'), ('merged', 'merged into another'), ('withdrawn', 'withdrawn: the Kaspi orders were cancelled'), ('cancelled', 'cancelled at Al-Style')], db_index=True, default='proposed', max_length=16, verbose_name='state')),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='proposed')),
                ('approved_at', models.DateTimeField(blank=True, null=True, verbose_name='approved')),
                ('shipping_date', models.DateField(blank=True, help_text='Empty: the next working day (SUPPLIER_SHIPPING_DAYS).', null=True, verbose_name='shipping date')),
                ('attorney', models.JSONField(blank=True, default=dict, verbose_name='power of attorney')),
                ('delivery', models.JSONField(blank=True, default=dict, verbose_name='delivery method')),
                ('external_id', models.CharField(blank=True, help_text='The Kaspi order numbers, as Al-Style keeps them on its order.', max_length=255, verbose_name='our reference')),
                ('expected_total', models.PositiveIntegerField(default=0, verbose_name='expected total, ₸')),
                ('claimed_by', models.CharField(blank=True, editable=False, max_length=100, verbose_name='sent by process')),
                ('claimed_at', models.DateTimeField(blank=True, null=True, verbose_name='last attempt')),
                ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                ('cart_filled', models.BooleanField(default=False, editable=False, verbose_name='our lines put in the cart')),
                ('submitted_at', models.DateTimeField(blank=True, help_text="A submit went out: before anything is sent again, Al-Style's newest orders are searched for it.", null=True, verbose_name='submitted')),
                ('submitted_total', models.PositiveIntegerField(blank=True, null=True, verbose_name='submitted total, ₸')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent')),
                ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                ('alstyle_id', models.PositiveBigIntegerField(blank=True, null=True, unique=True, verbose_name='Al-Style order')),
                ('alstyle_status', models.CharField(blank=True, choices=[('N', 'awaiting payment'), ('P', 'shipped, awaiting payment'), ('SV', 'ready to ship'), ('OS', 'being handed over for pickup'), ('OK', 'being shipped'), ('F', 'shipped and paid'), ('Un', 'merged with another order'), ('R', 'provisional reservation'), ('DA', 'cancelled')], db_index=True, max_length=4, verbose_name='status at Al-Style')),
                ('alstyle_status_at', models.DateTimeField(blank=True, null=True, verbose_name='status seen')),
                ('merged_with', models.PositiveBigIntegerField(blank=True, null=True, verbose_name='merged at Al-Style into order')),
                ('answer', models.TextField(blank=True, verbose_name="Al-Style's answer")),
                ('message', models.TextField(blank=True, verbose_name='last outcome')),
                ('approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='approved by')),
                ('merged_into', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='purchasing.supplierorder', verbose_name='merged into')),
                ('requested_by', models.ForeignKey(blank=True, help_text='Empty: proposed automatically when the Kaspi order was accepted.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='proposed by')),
            ],
            options={
                'verbose_name': 'supplier order',
                'verbose_name_plural': 'supplier orders',
                'ordering': ['-created_at', '-pk'],
                'permissions': [('approve_supplierorder', 'Can approve supplier orders sent to Al-Style'), ('cancel_supplierorder', 'Can cancel supplier orders at Al-Style')],
            },
        ),
        migrations.CreateModel(
            name='SupplierOrderEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='when')),
                ('state', models.CharField(choices=[('proposed', 'proposed, awaiting approval'), ('approved', 'approved, queued'), ('sending', 'sending'), ('uncertain', 'no answer, checking'), ('held', 'held: needs a decision'), ('sent', 'sent to Al-Style'), ('failed', 'failed'), ('rejected', 'rejected'), ('merged', 'merged into another'), ('withdrawn', 'withdrawn: the Kaspi orders were cancelled'), ('cancelled', 'cancelled at Al-Style')], max_length=16, verbose_name='state')),
                ('text', models.TextField(verbose_name='what happened')),
                ('notify', models.BooleanField(default=False, verbose_name='people told')),
                ('supplier_order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='purchasing.supplierorder', verbose_name='supplier order')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'supplier order event',
                'verbose_name_plural': 'supplier order history',
                'ordering': ['-at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='Coverage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('article', models.PositiveBigIntegerField(verbose_name='Al-Style article')),
                ('units', models.PositiveIntegerField(verbose_name='units')),
                ('bought', models.PositiveIntegerField(default=0, help_text='Units sent to Al-Style for this line: its reservation is released by them.', verbose_name='units bought')),
                ('live', models.BooleanField(default=True, editable=False)),
                ('keep', models.PositiveIntegerField(blank=True, null=True, verbose_name='units Al-Style supplies')),
                ('short_at', models.DateTimeField(blank=True, null=True, verbose_name='short since')),
                ('entry', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='orders.orderentry', verbose_name='Kaspi order line')),
                ('order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='supplier_coverage', to='orders.order', verbose_name='Kaspi order')),
                ('supplier_order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='coverage', to='purchasing.supplierorder', verbose_name='supplier order')),
            ],
            options={
                'verbose_name': 'Kaspi line served',
                'verbose_name_plural': 'Kaspi lines served',
                'ordering': ['supplier_order', 'pk'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('live', True)), fields=('entry',), name='one_live_supplier_order_per_line')],
            },
        ),
        migrations.CreateModel(
            name='SupplierOrderLine',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('article', models.PositiveBigIntegerField(verbose_name='Al-Style article')),
                ('name', models.CharField(blank=True, max_length=1000, verbose_name='name')),
                ('needed', models.PositiveIntegerField(help_text='Units the Kaspi lines need.', verbose_name='needed')),
                ('quantity', models.PositiveIntegerField(verbose_name='to buy')),
                ('multiplicity', models.PositiveIntegerField(blank=True, null=True, verbose_name='sold in multiples of')),
                ('expected_price', models.PositiveIntegerField(blank=True, null=True, verbose_name='expected price, ₸')),
                ('cart_price', models.PositiveIntegerField(blank=True, null=True, verbose_name='price in the cart, ₸')),
                ('delivered', models.PositiveIntegerField(blank=True, help_text="Units Al-Style's order shows, as last read.", null=True, verbose_name="in Al-Style's order")),
                ('product', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.product', verbose_name='product')),
                ('supplier_order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='purchasing.supplierorder', verbose_name='supplier order')),
            ],
            options={
                'verbose_name': 'supplier order line',
                'verbose_name_plural': 'supplier order lines',
                'ordering': ['supplier_order', 'article'],
                'constraints': [models.UniqueConstraint(fields=('supplier_order', 'article'), name='one_line_per_article')],
            },
        ),
    ]
