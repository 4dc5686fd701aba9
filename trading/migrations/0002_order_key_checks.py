"""Set-wise key checks for trading_order and trading_fxorder on PostgreSQL: a statement-level trigger with a
transition table refuses any INSERT/UPDATE/COPY statement whose rows point at a missing account,
listing, custody account, broker, block or run (one anti-join per key, not one lookup per row)."""
from django.db import migrations

TABLES = {
    "trading_order": [
        ("account_id", "accounts_account"), ("listing_id", "reference_listing"),
        ("custody_account_id", "accounts_custodyaccount"), ("broker_id", "trading_broker"),
        ("run_id", "trading_rebalancerun"),
    ],
    "trading_fxorder": [("account_id", "accounts_account"), ("run_id", "trading_rebalancerun")],
}


def _function(table: str, keys: list[tuple[str, str]]) -> str:
    checks = "\n".join(
        f"""  IF EXISTS (SELECT 1 FROM new_rows n WHERE n.{col} IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM {ref} t WHERE t.id = n.{col})) THEN
    RAISE EXCEPTION '{table}.{col} refers to a missing {ref} row' USING ERRCODE = 'foreign_key_violation';
  END IF;"""
        for col, ref in keys
    )
    return f"""
CREATE OR REPLACE FUNCTION {table}_check_keys() RETURNS trigger AS $$
BEGIN
{checks}
  RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER {table}_keys_insert AFTER INSERT ON {table}
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {table}_check_keys();
CREATE TRIGGER {table}_keys_update AFTER UPDATE ON {table}
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {table}_check_keys();
"""


FORWARD = "".join(_function(t, k) for t, k in TABLES.items())
BACKWARD = "".join(
    f"""DROP TRIGGER IF EXISTS {t}_keys_insert ON {t};
DROP TRIGGER IF EXISTS {t}_keys_update ON {t};
DROP FUNCTION IF EXISTS {t}_check_keys();
"""
    for t in TABLES
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
