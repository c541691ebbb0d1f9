"""Looks for a parent or carer by a phone number are planned without parallel workers. PostgreSQL
has no statistics for the numbers in the index (each is nearly unique, so none is common
enough to count) and guesses that one in 200 parents and carers has any number: on 1,000,000
children, 4,687 rows, enough to start two parallel workers for a look that finds one row.
Starting them took 4 ms of a 4.1 ms look, which takes 0.06 ms without; a shield is followed,
and a feed row's change looked at, by a look for each number. The service's other reads of
parents and carers are of a few rows each; a whole-table scan (``carer_phones_to_check``) runs
on one core. Going back lets PostgreSQL decide again.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0031_phone_keys_index_without_pending_list"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE directory_parentcarer SET (parallel_workers = 0)",
            reverse_sql="ALTER TABLE directory_parentcarer RESET (parallel_workers)",
        ),
    ]
