"""A feed record that every LA's file numbers alike (a UPN, NHS number or claim) keeps the last
row each LA sent once another LA's row has replaced it: a shielded child's row from the LA she
left is compared with that LA's own, not with the other LA's (directory/feed_import.py).

Rows replaced before this migration were not kept: such a row is compared, as before, with the
row the record holds. Going back drops what was kept.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0027_upload_checked_later"),
    ]

    operations = [
        migrations.AddField(
            model_name="sourcerecord",
            name="la_last_rows",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="The last row each other LA's file sent, with its import, by the LA's "
                'id ("" for a file of none): kept once another LA\'s row has replaced it',
            ),
        ),
    ]
