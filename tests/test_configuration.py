"""Configuration comes from the environment and fails loudly when it is wrong."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from contactpoint.database import database_config
from contactpoint.env import env_bool, env_float, env_int, env_list, env_networks


def test_it_reads_a_database_url_with_a_host_and_port():
    config = database_config("postgresql://app:s%40cret@db.internal:6432/contactpoint")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"]) == ("app", "s@cret")
    assert (config["HOST"], config["PORT"], config["NAME"]) == (
        "db.internal",
        "6432",
        "contactpoint",
    )


def test_it_reads_the_embedded_servers_socket_url():
    config = database_config("postgresql://postgres:@/contactpoint?host=/srv/var/pgdata")
    assert config["HOST"] == "/srv/var/pgdata"
    assert config["NAME"] == "contactpoint"
    assert config["OPTIONS"] == {"connect_timeout": "5"}


def test_it_passes_other_url_options_to_the_driver():
    config = database_config("postgres://app@db/cp?sslmode=verify-full&connect_timeout=2")
    assert config["OPTIONS"] == {"sslmode": "verify-full", "connect_timeout": "2"}


def test_a_replica_is_given_up_on_sooner_unless_its_url_says():
    """settings.py asks 2 s for the replica: one that does not answer is passed over."""
    assert database_config("postgres://app@replica/cp", connect_timeout=2)["OPTIONS"] == {
        "connect_timeout": "2"
    }
    url = "postgres://app@replica/cp?connect_timeout=7"
    assert database_config(url, connect_timeout=2)["OPTIONS"] == {"connect_timeout": "7"}


def test_it_refuses_a_url_that_is_not_postgresql():
    with pytest.raises(ImproperlyConfigured):
        database_config("mysql://app@db/cp")


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("0", False), ("", True)])
def test_booleans(monkeypatch, value, expected):
    monkeypatch.setenv("SOME_FLAG", value)
    assert env_bool("SOME_FLAG", True) is expected


def test_a_mistyped_boolean_or_number_fails_at_start_up(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "sometimes")
    monkeypatch.setenv("SOME_NUMBER", "twelve")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG", False)
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env_int("SOME_NUMBER", 3)


def test_a_negative_or_too_small_number_fails_at_start_up(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "-1")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be at least 0, not -1"):
        env_int("SOME_NUMBER", 3)
    monkeypatch.setenv("SOME_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be at least 1, not 0"):
        env_int("SOME_NUMBER", 3, minimum=1)
    # Seven hundred years of access log kept counts back past the first year a date can have.
    monkeypatch.setenv("AUDIT_RETENTION_YEARS", "700")
    with pytest.raises(ImproperlyConfigured, match="AUDIT_RETENTION_YEARS must be at most 100"):
        env_int("AUDIT_RETENTION_YEARS", 7, minimum=1, maximum=100)
    for value in ("high", "nan", "inf"):
        monkeypatch.setenv("SOME_WEIGHT", value)
        with pytest.raises(ImproperlyConfigured, match="SOME_WEIGHT must be a"):
            env_float("SOME_WEIGHT", 1.5)


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"SEARCH_RATE_LIMIT": "-1"}, "SEARCH_RATE_LIMIT must be at least 0, not -1"),
        ({"SEARCH_MIN_SCORE": "150"}, "SEARCH_MIN_SCORE must be at most 100, not 150"),
        (
            {"LOG_LEVEL": "loud"},
            "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'loud'",
        ),
        ({"FEED_MATCH_LOWER": "18"}, "FEED_MATCH_LOWER must not be above FEED_MATCH_UPPER"),
        ({"FEED_MATCH_MARGIN": "-2"}, "FEED_MATCH_MARGIN must not be negative"),
    ],
)
def test_the_settings_refuse_a_value_that_would_make_nonsense_of_the_service(variables, said):
    """Each would start a service that misbehaves quietly: a search that lists no one, rows
    joining children the review was meant for. Start-up stops and names the variable."""
    assert _settings_start_up(variables) == (False, said)


def test_a_log_level_in_small_letters_is_read_as_in_capitals():
    assert _settings_start_up({"LOG_LEVEL": "warning"}) == (True, "WARNING")


def _settings_start_up(variables):
    """Whether the settings load with these variables, and what start-up said (the error's
    last line) or, if they loaded, the log level they chose."""
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup();"
         "from django.conf import settings; print(settings.LOGGING['root']['level'])"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "contactpoint.settings", **variables},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode == 0:
        return True, result.stdout.strip()
    return False, result.stderr.strip().splitlines()[-1].split(": ", 1)[1]


def test_lists(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]
    monkeypatch.delenv("HOSTS")
    assert env_list("HOSTS", ["x"]) == ["x"]


def test_proxies_are_addresses_or_ranges_and_anything_else_stops_start_up(monkeypatch):
    monkeypatch.setenv("PROXIES", "::ffff:10.0.0.2, ::ffff:10.0.0.0/120")
    assert [str(n) for n in env_networks("PROXIES")] == ["10.0.0.2/32", "10.0.0.0/24"]
    monkeypatch.setenv("PROXIES", "10.0.0.0/8, 192.0.2.1, 2001:db8::/32")
    assert [str(n) for n in env_networks("PROXIES")] == [
        "10.0.0.0/8",
        "192.0.2.1/32",
        "2001:db8::/32",
    ]
    for wrong, said in (
        ("10.0.0.0/8, the-load-balancer", "'the-load-balancer' is not an IP address"),
        ("10.0.0.5/8", "'10.0.0.5/8' is not an IP address or range"),
        ("0.0.0.0/0", "'0.0.0.0/0' is most of the internet"),
        ("::ffff:0.0.0.0/96", "'::ffff:0.0.0.0/96' is most of the internet"),
        ("2000::/8", "'2000::/8' is most of the internet"),
    ):
        monkeypatch.setenv("PROXIES", wrong)
        with pytest.raises(ImproperlyConfigured, match=said):
            env_networks("PROXIES")


def test_the_set_up_checks_the_python_it_builds_with_not_one_that_does_not_run(tmp_path):
    """A pyenv shim named python3.12, for a version not selected, fails to run: the set-up
    took it for the Python without venv, and ran apt-get (which failed on a machine where
    another apt-get held the lock), though the Python 3.11 the Makefile uses has venv."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    for name, script in {
        "python3.12": "#!/bin/sh\necho 'python3.12: command not found' >&2\nexit 127\n",
        "python3.11": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n',
        "apt-get": "#!/bin/sh\necho apt-get was run\nexit 100\n",
        "sudo": '#!/bin/sh\nexec "$@"\n',
    }.items():
        (tmp_path / name).write_text(script)
        (tmp_path / name).chmod(0o755)
    setup = Path(__file__).resolve().parent.parent / "scripts" / "ensure-system-packages"
    result = subprocess.run(
        [str(setup), "python-venv"],
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "apt-get was run" not in result.stdout
