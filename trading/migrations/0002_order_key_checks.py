"""Set-wise key checks for trading_order on PostgreSQL: a statement-level trigger with a
transition table refuses any INSERT/UPDATE/COPY statement whose rows point at a missing account,
listing, custody account, broker, block or run (one anti-join per key, not one lookup per row)."""
from django.db import migrations

KEYS = [
    ("account_id", "accounts_account"), ("listing_id", "reference_listing"),
    ("custody_account_id", "accounts_custodyaccount"), ("broker_id", "trading_broker"),
    ("run_id", "trading_rebalancerun"),
]

CHECKS = "\n".join(
    f"""  IF EXISTS (SELECT 1 FROM new_rows n WHERE n.{col} IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = n.{col})) THEN
    RAISE EXCEPTION 'trading_order.{col} refers to a missing {table} row' USING ERRCODE = 'foreign_key_violation';
  END IF;"""
    for col, table in KEYS
)

FORWARD = f"""
CREATE OR REPLACE FUNCTION trading_order_check_keys() RETURNS trigger AS $$
BEGIN
{CHECKS}
  RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER trading_order_keys_insert AFTER INSERT ON trading_order
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trading_order_check_keys();
CREATE TRIGGER trading_order_keys_update AFTER UPDATE ON trading_order
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trading_order_check_keys();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS trading_order_keys_insert ON trading_order;
DROP TRIGGER IF EXISTS trading_order_keys_update ON trading_order;
DROP FUNCTION IF EXISTS trading_order_check_keys();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
