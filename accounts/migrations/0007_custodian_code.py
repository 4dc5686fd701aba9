# Custodians gain a `code` key (filled from the BIC for existing rows) and an optional BIC.

from django.db import migrations, models

import trading.reference.identifiers


def fill_codes(apps, schema_editor):
    Custodian = apps.get_model("accounts", "Custodian")
    for c in Custodian.objects.all():
        c.code = c.bic or f"CUST{c.pk}"
        c.save(update_fields=["code"])


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_account_hedge_ratio'),
    ]

    operations = [
        migrations.AddField(
            model_name='custodian',
            name='code',
            field=models.CharField(blank=True, max_length=40, null=True),
        ),
        migrations.RunPython(fill_codes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='custodian',
            name='code',
            field=models.CharField(blank=True, help_text='Short key used in files, commands and the API; defaults to the BIC', max_length=40, unique=True),
        ),
        migrations.AlterField(
            model_name='custodian',
            name='bic',
            field=models.CharField(blank=True, max_length=11, null=True, unique=True, validators=[trading.reference.identifiers.validate_bic]),
        ),
    ]
