"""Each of ContactPoint's management commands says on --help what each of its options is for."""

import pytest
from django.core.management import get_commands, load_command_class

from tests.commands import run_manage

OURS = ("accounts", "audit", "directory", "shielding")
# Django's own options on every command (--verbosity, --settings ...).
DJANGOS = {"help", "version", "verbosity", "settings", "pythonpath", "traceback", "no_color",
           "force_color", "skip_checks"}  # fmt: skip
COMMANDS = sorted(name for name, app in get_commands().items() if app in OURS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_says_what_it_is_for(name):
    command = load_command_class(get_commands()[name], name)
    parser = command.create_parser("manage.py", name)
    unexplained = [
        action.option_strings[0] if action.option_strings else action.dest
        for action in parser._actions
        if action.dest not in DJANGOS and not action.help
    ]
    assert command.help
    assert not unexplained, f"{name}: {unexplained} have no help"


def test_seed_demo_if_empty_says_the_demo_users_are_made_afresh():
    """It does not "do nothing": the demo users' passwords and codes change."""
    shown = run_manage("seed_demo", "--help").stdout
    assert "do nothing" not in shown
    assert "afresh" in shown
