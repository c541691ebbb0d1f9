"""`seed_demo` loads realistic, deterministic demo data and refuses bad input in one line."""

import base64
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import demo as accounts_demo
from accounts.models import Organisation, User
from accounts.roles import Role
from contactpoint.telephone_numbers import telephone_number_is_valid
from directory.models import Address, Child, Involvement, ParentCarer, Service
from shielding.models import Shield
from shielding.policy import sharing_records
from tests.commands import run_manage


@pytest.fixture(autouse=True)
def _credentials_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(accounts_demo, "CREDENTIALS_FILE", tmp_path / "demo-credentials.txt")


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def child_fingerprint() -> list[tuple]:
    return list(
        Child.objects.order_by("id").values_list(
            "given_name", "family_name", "gender", "date_of_birth", "local_authority__code"
        )
    )


@pytest.mark.django_db
class TestDemoData:
    def test_it_loads_the_requested_number_of_children(self):
        seed("--children", "1500", "--seed", "7")
        assert Child.objects.count() == 1500

    def test_every_phone_is_a_telephone_number(self):
        """The load test's million children come from here: each phone as a form or a feed
        would take it (Kent's were "01622 496 0400", a digit too many)."""
        seed("--children", "300", "--seed", "7")
        phones = [
            *ParentCarer.objects.values_list("phone", flat=True),
            *Service.objects.values_list("phone", flat=True),
            *Organisation.objects.values_list("team_phone", flat=True),
            *User.objects.values_list("phone", flat=True),
        ]
        assert [phone for phone in phones if phone and not telephone_number_is_valid(phone)] == []
        assert {"01622", "020 7"} <= {phone[:5] for phone in phones}

    def test_the_same_seed_gives_the_same_children(self):
        seed("--children", "300", "--seed", "7")
        first = child_fingerprint()
        seed("--children", "300", "--seed", "7", "--replace")
        assert child_fingerprint() == first
        seed("--children", "300", "--seed", "8", "--replace")
        assert child_fingerprint() != first

    def test_it_makes_the_situations_the_directory_must_handle(self):
        seed("--children", "3000", "--seed", "7")
        several_current = Child.objects.annotate(
            current=Count("addresses", filter=Q(addresses__ended_on__isnull=True))
        ).filter(current__gt=1)
        assert several_current.exists(), "some children live at two addresses"
        assert Address.objects.filter(ended_on__isnull=False).exists(), "past addresses"
        assert ParentCarer.objects.exclude(country="GB").exists(), "parents overseas"
        siblings = Child.objects.values("carer_relationships__carer").annotate(n=Count("id"))
        assert siblings.filter(n__gt=1).exists(), "families with siblings"
        busiest_school = (
            Service.objects.filter(kind=Service.Kind.SCHOOL)
            .annotate(pupils=Count("involvements"))
            .order_by("-pupils")
            .first()
        )
        assert busiest_school is not None and busiest_school.pupils > 20
        assert Involvement.objects.filter(caf_held=True, lead_professional=True).exists()
        assert Involvement.objects.exclude(sensitive_category="").exists()
        today = date.today()
        adults = [c for c in Child.objects.all() if c.age_on(today) >= 18]
        assert adults, "some 18+ for the archiving job"
        assert all(c.age_on(today) <= 20 for c in Child.objects.all())

    def test_a_home_is_recorded_since_the_day_it_was_received_as_a_feeds_is(self):
        """No feed gives the day a child moved in: a demo home's date is the day ContactPoint
        received it, not a move-in day its provenance contradicts ("since 2015, received
        this month")."""
        seed("--children", "1000", "--seed", "7")
        homes = Address.objects.annotate(received_on=TruncDate("received_at"))
        assert homes.filter(ended_on__isnull=False).exists()
        assert not homes.exclude(started_on=F("received_on")).exists()

    def test_about_half_a_percent_of_children_are_shielded(self):
        seed("--children", "6000", "--seed", "7")
        shielded = set(
            Shield.objects.filter(lifted_at__isnull=True).values_list("child", flat=True)
        )
        assert 10 <= len(shielded) <= 55  # 0.5% of 6,000 is 30
        for child in Child.objects.filter(pk__in=shielded):
            assert sharing_records(child).show_hers <= shielded, (
                "her brothers and sisters are shielded"
            )

    def test_it_creates_one_demo_user_per_role_and_prints_how_to_sign_in(self):
        output = seed("--children", "50")
        held = {role for user in User.objects.all() for role in user.roles}
        assert held == set(Role.values)
        assert "priya" in output and "/accounts/login/" in output
        assert accounts_demo.CREDENTIALS_FILE.read_text() in output

    def test_the_printed_passwords_sign_in(self, client):
        output = seed("--children", "10")
        line = next(line for line in output.splitlines() if line.strip().startswith("priya"))
        password = line.split()[1]
        assert client.login(username="priya", password=password)

    def test_the_printed_authenticator_key_gives_codes_her_device_accepts(self):
        """Getting new backup codes asks for a code from her app: a demo user sets one up by
        hand with the printed key."""
        output = seed("--children", "10")
        lines = output.splitlines()
        at = next(i for i, line in enumerate(lines) if line.strip().startswith("priya"))
        key = next(line for line in lines[at:] if "authenticator key:" in line).split(":")[1]
        secret = base64.b32decode(key.replace(" ", "").strip())
        code = f"{TOTP(secret).token():06d}"
        device = TOTPDevice.objects.get(user__username="priya")
        assert device.verify_token(code)

    def test_if_empty_leaves_a_loaded_directory_alone(self):
        seed("--children", "40")
        output = seed("--children", "400", "--if-empty")
        assert Child.objects.count() == 40
        assert "already holds 40 children" in output

    def test_it_refuses_to_add_to_a_loaded_directory(self):
        seed("--children", "40")
        with pytest.raises(Exception, match="--replace"):
            seed("--children", "40")
        assert Child.objects.count() == 40


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--children", "-5"], "must be at least 1"),
        (["--children", "0"], "must be at least 1"),
        (["--children", "lots"], "is not a whole number"),
        (["--seed", "x"], "invalid int value"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(arguments, message):
    result = run_manage("seed_demo", *arguments)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
