"""Finding a shielded child's parent or carer by each phone number in the field, and by email.

0012 indexed the last 9 digits of the whole phone field, so "07700 987654 / 01632 960123" or
"07700 987654 ext 2" did not find the carer whose field says "07700 987654".
``contactpoint_phone_keys`` splits the field where one number ends (a slash, comma,
semicolon, ampersand, bar or a word such as "ext" or "or") and keeps the last 9 digits of each
part that has as many; a part with more digits than one number holds (two run together,
"07700987654 01632960123") gives the first number's too. shielding/policy.py ``phone_keys``
reads a field the same way.
"""

import django.db.models.functions.text
from django.contrib.postgres.indexes import GinIndex
from django.db import migrations, models

import directory.models

PHONE_KEYS = r"""
CREATE FUNCTION contactpoint_phone_keys(phone text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    WITH numbers AS (
        SELECT regexp_replace(part, '[^0-9]', '', 'g') AS digits
        FROM regexp_split_to_table(phone, '[/,;&|]|[A-Za-z]+') AS part
    )
    SELECT ARRAY(
        SELECT DISTINCT key
        FROM (
            SELECT right(digits, 9) AS key FROM numbers
            UNION ALL
            SELECT substr(regexp_replace(regexp_replace(digits, '^44', ''), '^0', ''), 2, 9)
            FROM numbers
            WHERE length(digits) > 13
        ) AS keys
        WHERE length(key) = 9
        ORDER BY 1
    )
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0014_parentcarer_postcode"),
    ]

    operations = [
        migrations.RunSQL(PHONE_KEYS, "DROP FUNCTION contactpoint_phone_keys(text)"),
        migrations.RemoveIndex(model_name="parentcarer", name="parentcarer_phone_key"),
        migrations.AddIndex(
            model_name="parentcarer",
            index=GinIndex(directory.models.PhoneKeys("phone"), name="parentcarer_phone_keys"),
        ),
        migrations.AddIndex(
            model_name="parentcarer",
            index=models.Index(
                django.db.models.functions.text.Lower("email"), name="parentcarer_email"
            ),
        ),
        migrations.RunSQL("ANALYZE directory_parentcarer", migrations.RunSQL.noop),
    ]
