"""An override of a record shielded for sharing a child's home or carer is also hers, through
that record, for her LA's team to sign off. Going back drops the column: such overrides then
read as overrides of her record."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shielding", "0003_shield_for_sharing"),
    ]

    operations = [
        migrations.AddField(
            model_name="shieldoverride",
            name="seen_through",
            field=models.CharField(blank=True, max_length=12),
        ),
    ]
