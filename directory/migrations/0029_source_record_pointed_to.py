"""A row whose id, NHS number or UPN points to a child it may not be (another first name and
birthday: a sister under her brother's id) waits for a data manager, who is offered that child
(directory/feed_import.py). Going back drops whom such a row pointed to: its review then offers
the candidates its names and birthday find.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0028_source_record_la_last_rows"),
    ]

    operations = [
        migrations.AddField(
            model_name="sourcerecord",
            name="pointed_to",
            field=models.ForeignKey(
                blank=True,
                help_text="The child the row's id, NHS number or UPN points to, while a data "
                "manager decides whether the row is theirs",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="directory.child",
            ),
        ),
    ]
