"""`python manage.py loadtest_prepare --users N`: the users and sample children a load test uses."""

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Organisation, SignInFailure, User
from accounts.roles import Role
from contactpoint.commands import Command as BaseCommand
from contactpoint.commands import positive_int
from directory.models import Child
from shielding.models import Shield

OUTPUT = Path(settings.BASE_DIR) / "var" / "loadtest" / "fixtures.json"


class Command(BaseCommand):
    """Makes load-test users (practitioners, auditors, LA administrators) with known passwords
    and authenticator keys, and writes them with a sample of findable children to
    var/loadtest/fixtures.json. For load tests against demo data only."""

    help = "Prepare users and sample children for make loadtest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--users", type=positive_int, default=60,
            help="load-test users to make, load0000 on (default %(default)s)",
        )  # fmt: skip
        parser.add_argument(
            "--children", type=positive_int, default=5000,
            help="children to sample for the searches and record pages (default %(default)s)",
        )  # fmt: skip

    def handle(self, *args: Any, users: int, children: int, **options: Any) -> None:
        if settings.PRODUCTION:
            # It makes users with a shared password and clears sign-in failures.
            raise CommandError("loadtest_prepare is for the load test's own database only")
        la = Organisation.objects.filter(kind=Organisation.Kind.LOCAL_AUTHORITY).first()
        if la is None:
            raise SystemExit("Load demo data first (make run, or seed_demo).")
        kinds = {"practitioner": [Role.PRACTITIONER], "auditor": [Role.AUDITOR],
                 "administrator": [Role.LA_ADMINISTRATOR]}  # fmt: skip
        password = secrets.token_urlsafe(16)
        people = []
        # Failures an earlier run left (a code used twice within its 30 s) would lock the load
        # users, or the address they all sign in from, for the lockout period.
        SignInFailure.objects.filter(
            Q(username__startswith="load") | Q(ip_address="127.0.0.1")
        ).delete()
        for n in range(users):
            kind = "practitioner" if n % 10 < 8 else "auditor" if n % 10 == 8 else "administrator"
            user, _ = User.objects.update_or_create(
                username=f"load{n:04d}",
                defaults={
                    "organisation": la, "roles": [r.value for r in kinds[kind]],
                    "first_name": "Load", "last_name": f"User {n}",
                    "vetting_checked_on": "2026-01-01", "training_completed_on": "2026-01-01",
                },
            )  # fmt: skip
            user.set_password(password)
            user.save()
            TOTPDevice.objects.filter(user=user).delete()
            device = TOTPDevice.objects.create(user=user, name="Load test", confirmed=True)
            people.append({"username": user.username, "kind": kind, "key": device.key})
        # Shielded children stay in the sample (their masked record is part of the load), marked
        # so that the load test adds involvements only where a practitioner may (not to them).
        shielded = Exists(Shield.objects.filter(child=OuterRef("pk"), lifted_at__isnull=True))
        sample = list(
            Child.objects.filter(status=Child.Status.ACTIVE)
            # Not one the day's lifecycle run archives: practitioners no longer find it.
            .exclude(Child.due_for_archiving(timezone.localdate()))
            .annotate(shielded=shielded)
            .order_by("?")
            .values("contactpoint_id", "given_name", "family_name", "date_of_birth", "shielded")[
                :children
            ]
        )
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        OUTPUT.write_text(
            json.dumps({"password": password, "users": people, "children": sample}, default=str)
        )
        self.stdout.write(f"{len(people)} users and {len(sample)} children written to {OUTPUT}")
