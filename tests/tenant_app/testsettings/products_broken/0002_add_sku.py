from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("products", "0001_initial")]
    operations = [
        migrations.AddField("product", "sku", models.CharField(max_length=50, default="")),
    ]
