"""What a server log line may say: no child's details, whatever failed.

PostgreSQL explains a refused row with its values ("DETAIL:  Failing row contains (…, Amelia,
Hart, …)", "Key (…)=(…) already exists"), and psycopg puts that in the exception's text, which
Django's "Internal Server Error" line and the audit middleware's log of a failed request print
with their traceback.
"""

import logging
import re

# The DETAIL of a PostgreSQL error, up to the end of that error's text (a blank line before a
# chained exception's traceback, its HINT or CONTEXT, or the end).
_DETAIL = re.compile(r"^DETAIL: .*?(?=\n\n|\n(?:HINT|CONTEXT):|\Z)", re.MULTILINE | re.DOTALL)


class WithoutRowValuesFormatter(logging.Formatter):
    """A formatter whose lines keep a database error's message but not the values of the row
    it refused."""

    def format(self, record: logging.LogRecord) -> str:
        return _DETAIL.sub(
            "DETAIL: (not logged: it may hold a child's details)", super().format(record)
        )
