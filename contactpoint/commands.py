"""Base for management commands: bad input is one line on stderr and exit code 2."""

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organisation


class _OneLineErrorParser(CommandParser):
    def error(self, message: str) -> NoReturn:
        if not self.called_from_command_line:
            super().error(message)  # raises CommandError for call_command()
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


class Command(BaseCommand):
    """Like Django's BaseCommand, but argparse's usage block is not printed above an error."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Django builds the parser itself, so the subclass is swapped in afterwards.
        parser.__class__ = _OneLineErrorParser
        return parser


def positive_int(value: str) -> int:
    """An argparse type for counts: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return number


def positive_int_up_to(most: int) -> Callable[[str], int]:
    """An argparse type for counts from 1 to ``most``: past it, the months or years they count
    would run beyond the dates Python can hold (a traceback, not a message), or to no purpose."""

    def parse(value: str) -> int:
        number = positive_int(value)
        if number > most:
            raise argparse.ArgumentTypeError(f"{value} must be at most {most}")
        return number

    return parse


def local_authority(code: str) -> Organisation:
    """The local authority a ``--local-authority CODE`` names; exit code 2 if none."""
    la = Organisation.objects.filter(code=code, kind=Organisation.Kind.LOCAL_AUTHORITY).first()
    if la is None:
        raise CommandError(f"No local authority has the code {code!r}", returncode=2)
    return la
