"""The benchmark and load-test helpers work on a small directory (their figures are measured
by hand, never asserted: see README "Hardening, load and scale")."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import demo as accounts_demo
from accounts.management.commands import loadtest_prepare
from accounts.models import User
from directory.search import findable_children
from shielding.models import Shield


@pytest.fixture
def directory(tmp_path, monkeypatch):
    monkeypatch.setattr(accounts_demo, "CREDENTIALS_FILE", tmp_path / "demo-credentials.txt")
    call_command("seed_demo", "--children", "400", "--seed", "3", stdout=StringIO())


@pytest.mark.django_db
def test_bench_directory_times_search_and_record_pages(directory):
    out = StringIO()
    call_command("bench_directory", "--samples", "5", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "400 children; 5 samples of each page (ms):"
    assert lines[1] == (
        "  each search found the child searched for in 5 of 5; 0 answered too many matches"
    )
    for line, page in zip(lines[2:4], ("search", "record"), strict=True):
        figures = line.split()
        assert figures[:2] == [page, "median"]
        median, p95, p99, slowest = (float(figures[i]) for i in (2, 4, 6, 8))
        # With a few samples a percentile past the slowest request would be made up.
        assert median <= p95 <= p99 <= slowest, line


@pytest.mark.django_db
def test_bench_directory_leaves_the_search_limit_as_it_found_it(directory, settings):
    """It searches without a limit; the tests run after it in the same process keep theirs."""
    settings.SEARCH_RATE_LIMIT = 30
    hosts = list(settings.ALLOWED_HOSTS)
    call_command("bench_directory", "--samples", "2", stdout=StringIO())
    assert settings.SEARCH_RATE_LIMIT == 30
    assert hosts == settings.ALLOWED_HOSTS


@pytest.mark.django_db
def test_bench_directory_measures_a_single_sample(directory):
    out = StringIO()
    call_command("bench_directory", "--samples", "1", stdout=out)
    search = out.getvalue().splitlines()[2].split()
    assert search[0] == "search"
    assert search[2] == search[4] == search[6] == search[8], "one time, every percentile"


@pytest.mark.django_db
def test_bench_directory_on_an_empty_directory_says_to_load_one():
    with pytest.raises(CommandError, match="load demo data first") as refused:
        call_command("bench_directory", "--samples", "3", stdout=StringIO())
    assert refused.value.returncode == 2


@pytest.mark.django_db
def test_loadtest_prepare_writes_users_who_can_sign_in_and_marks_shielded_children(
    directory, tmp_path, monkeypatch, client
):
    fixtures = tmp_path / "fixtures.json"
    monkeypatch.setattr(loadtest_prepare, "OUTPUT", fixtures)
    call_command("loadtest_prepare", "--users", "10", "--children", "400", stdout=StringIO())
    written = json.loads(fixtures.read_text())
    assert {person["kind"] for person in written["users"]} == {
        "practitioner", "auditor", "administrator"
    }  # fmt: skip
    shielded = {child["contactpoint_id"] for child in written["children"] if child["shielded"]}
    assert shielded, "the demo data shields some children"
    assert shielded == set(
        Shield.objects.filter(lifted_at__isnull=True).values_list(
            "child__contactpoint_id", flat=True
        )
    ) & {child["contactpoint_id"] for child in written["children"]}
    # The demo leaves some over 18 for the lifecycle job to archive: none is in the sample,
    # whose record pages and searches would measure a "not found" instead.
    practitioner = User.objects.get(username=next(
        p["username"] for p in written["users"] if p["kind"] == "practitioner"
    ))  # fmt: skip
    findable = findable_children(practitioner, timezone.localdate())
    sampled = {child["contactpoint_id"] for child in written["children"]}
    assert sampled and sampled <= set(findable.values_list("contactpoint_id", flat=True))
    person = written["users"][0]
    user = User.objects.get(username=person["username"])
    assert user.check_password(written["password"])
    code = totp(bytes.fromhex(person["key"]), t0=0, step=30, digits=6, drift=0)
    assert TOTPDevice.objects.get(user=user).verify_token(f"{code:06d}")
