from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("users", "0001_initial")]
    operations = [
        migrations.AddField("user", "nickname", models.CharField(max_length=50, default="")),
    ]
