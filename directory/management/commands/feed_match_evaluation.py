"""`python manage.py feed_match_evaluation [--families N] [--seed S]`: measure the matcher."""

from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction

from contactpoint.commands import Command as BaseCommand
from contactpoint.commands import positive_int
from directory.linkage_evaluation import evaluate


class _RollBack(Exception):
    pass


class Command(BaseCommand):
    """Generates a labelled set, runs the feed matcher on it and reports precision and recall
    of automatic matches. Everything it creates is rolled back."""

    help = "Measure the feed matcher's precision and recall on a generated labelled set."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--families", type=positive_int, default=2000,
            help="families in the generated set (default %(default)s)",
        )  # fmt: skip
        parser.add_argument(
            "--seed", type=int, default=7,
            help="the same seed always gives the same set (default %(default)s)",
        )  # fmt: skip

    def handle(self, *args: Any, families: int, seed: int, **options: Any) -> None:
        try:
            with transaction.atomic():
                result = evaluate(families=families, seed=seed)
                raise _RollBack
        except _RollBack:
            pass
        self.stdout.write(
            f"Rows that are children already in the directory: {result.true_rows}; "
            f"rows that are not: {result.false_rows}.\n"
            f"Automatic matches: {result.merged_right} right, {result.merged_wrong} wrong; "
            f"sent for review: {result.reviewed}; "
            f"true matches made new: {result.new_for_matches}.\n"
            f"Precision of automatic matches: {result.precision:.4f} (target 0.995)\n"
            f"Recall of automatic matches: {result.recall:.4f} (target 0.95)"
        )
