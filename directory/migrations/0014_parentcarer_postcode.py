"""Finding the parents and carers at a shielded child's home, by postcode.

Then fresh statistics for the table: without them PostgreSQL guesses that thousands of carers
share a phone number (the index of 0012) and plans each look-up in parallel, several times
slower.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0013_sensitive_never_lead"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="parentcarer",
            index=models.Index(fields=["postcode"], name="parentcarer_postcode"),
        ),
        migrations.RunSQL("ANALYZE directory_parentcarer", migrations.RunSQL.noop),
    ]
