"""Fails after a schema change of its own, which must be rolled back with it."""

from django.db import migrations, models


def fail(apps, schema_editor):
    raise RuntimeError("the data backfill found a product without a price")


class Migration(migrations.Migration):
    dependencies = [("products", "0002_add_sku")]
    operations = [
        migrations.AddField("product", "barcode", models.CharField(max_length=50, default="")),
        migrations.RunPython(fail, migrations.RunPython.noop),
    ]
