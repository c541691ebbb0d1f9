"""`python manage.py bench_directory [--samples N]`: search and record latency on this database."""

import statistics
import time
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.roles import Role
from contactpoint.commands import Command as BaseCommand
from contactpoint.commands import positive_int
from directory.models import Child


class Command(BaseCommand):
    """Times the search and record pages end to end inside Django (middleware, audit event and
    all; no network), for children sampled from the directory, and prints percentiles."""

    help = "Measure search and record page latency on the current directory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--samples", type=positive_int, default=300,
            help="children to search for and open, one at a time (default %(default)s)",
        )  # fmt: skip

    def handle(self, *args: Any, samples: int, **options: Any) -> None:
        from django.conf import settings

        # For this run only: a caller in the same process (the tests) keeps its own settings.
        # No rate limit, as it searches without pause.
        with override_settings(
            ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"], SEARCH_RATE_LIMIT=0
        ):
            self._measure(samples)

    def _measure(self, samples: int) -> None:
        total = Child.objects.count()
        ids = list(
            Child.objects.filter(status=Child.Status.ACTIVE)
            # Not one the day's lifecycle run archives: practitioners no longer find it.
            .exclude(Child.due_for_archiving(timezone.localdate()))
            .order_by("?")
            .values("contactpoint_id", "given_name", "family_name", "date_of_birth")[:samples]
        )
        if not ids:
            raise CommandError(
                "The directory holds no child a practitioner can find: load demo data first "
                "(make run, or seed_demo)",
                returncode=2,
            )
        user = self._user()
        client = Client()
        client.force_login(user)
        self._verify(client, user)
        search, record = [], []
        found = too_many = 0
        for child in ids:
            started = time.perf_counter()
            response = client.post(
                "/search/",
                {"surname": child["family_name"], "forename": child["given_name"],
                 "date_of_birth": child["date_of_birth"].isoformat()},
            )  # fmt: skip
            search.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
            page = response.content.decode()
            found += f"/children/{child['contactpoint_id']}/" in page
            too_many += "There are too many matches" in page
            started = time.perf_counter()
            response = client.get(f"/children/{child['contactpoint_id']}/")
            record.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        self.stdout.write(f"{total:,} children; {len(ids)} samples of each page (ms):")
        self.stdout.write(
            f"  each search found the child searched for in {found} of {len(ids)}; "
            f"{too_many} answered too many matches"
        )
        for name, times in (("search", search), ("record", record)):
            # "inclusive": the percentiles of the times measured. The default ("exclusive")
            # reaches past the slowest request with few samples (p99 above the max).
            # One sample is every percentile of itself (quantiles needs two).
            cuts = (
                statistics.quantiles(times, n=100, method="inclusive") if times[1:] else times * 99
            )
            self.stdout.write(
                f"  {name:7} median {statistics.median(times):6.1f}  p95 {cuts[94]:6.1f}  "
                f"p99 {cuts[98]:6.1f}  max {max(times):6.1f}"
            )

    @staticmethod
    def _user() -> User:
        organisation = Organisation.objects.filter(kind=Organisation.Kind.LOCAL_AUTHORITY).first()
        user, _ = User.objects.update_or_create(
            username="bench",
            defaults={
                "organisation": organisation, "roles": [Role.PRACTITIONER.value],
                "vetting_checked_on": timezone.localdate(),
                "training_completed_on": timezone.localdate(), "last_login": timezone.now(),
            },
        )  # fmt: skip
        return user

    @staticmethod
    def _verify(client: Client, user: User) -> None:
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from accounts.middleware import LAST_SEEN_AT, SESSION_STAMP, SIGNED_IN_AT

        device, _ = TOTPDevice.objects.get_or_create(
            user=user, confirmed=True, defaults={"name": "b"}
        )
        session = client.session
        now = time.time()
        session.update(
            {
                SIGNED_IN_AT: now,
                LAST_SEEN_AT: now,
                SESSION_STAMP: str(user.session_stamp),
                DEVICE_ID_SESSION_KEY: device.persistent_id,
            }
        )
        session.save()
