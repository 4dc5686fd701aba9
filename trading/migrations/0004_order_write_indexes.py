"""Fewer index insertions per order a rebalance writes: the status index leaves out proposed
orders, and the run's index is a BRIN index on PostgreSQL (a run's orders are written together)
instead of a b-tree (a b-tree elsewhere, e.g. SQLite in tests)."""

import django.db.models.deletion
from django.db import migrations, models


def run_index(apps, schema_editor):
    using = "USING brin " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"CREATE INDEX order_run_idx ON trading_order {using}(run_id)")


def drop_run_index(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS order_run_idx")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0009_rebalance_settings'),
        ('reference', '0002_market_source_eligibility_scope'),
        ('trading', '0003_order_settlement_error'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='order',
            name='trading_ord_status_1deb1b_idx',
        ),
        migrations.AlterField(
            model_name='order',
            name='run',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='trading.rebalancerun'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('status', 'proposed'), _negated=True), fields=['status', 'trade_date'], name='order_status_not_proposed_idx'),
        ),
        migrations.RunPython(run_index, drop_run_index),
    ]
