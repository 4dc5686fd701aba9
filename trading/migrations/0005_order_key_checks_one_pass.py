"""The set-wise key checks of migration 0002 in one pass: one scan of the statement's transition
table joined to every referenced table (hash joins), instead of one scan and one anti-join per
key. Only when a key points nowhere are the keys checked one by one, to name the column in the
error. The function runs with enough work_mem to hash the referenced ids in memory."""
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
    joins = "\n".join(f"    LEFT JOIN {ref} t{k} ON t{k}.id = n.{col}" for k, (col, ref) in enumerate(keys))
    missing = "\n      OR ".join(f"(n.{col} IS NOT NULL AND t{k}.id IS NULL)" for k, (col, _) in enumerate(keys))
    named = "\n".join(
        f"""    IF EXISTS (SELECT 1 FROM new_rows n WHERE n.{col} IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM {ref} t WHERE t.id = n.{col})) THEN
      RAISE EXCEPTION '{table}.{col} refers to a missing {ref} row' USING ERRCODE = 'foreign_key_violation';
    END IF;"""
        for col, ref in keys
    )
    return f"""
CREATE OR REPLACE FUNCTION {table}_check_keys() RETURNS trigger AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM new_rows n
{joins}
    WHERE {missing}
  ) THEN
{named}
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql SET work_mem = '64MB';
"""


def _previous(table: str, keys: list[tuple[str, str]]) -> str:
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
ALTER FUNCTION {table}_check_keys() RESET ALL;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("".join(_function(t, k) for t, k in TABLES.items()))


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("".join(_previous(t, k) for t, k in TABLES.items()))


class Migration(migrations.Migration):
    dependencies = [("trading", "0004_order_write_indexes")]
    operations = [migrations.RunPython(forwards, backwards)]
