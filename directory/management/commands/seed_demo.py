"""`python manage.py seed_demo --children N [--seed S]`: load deterministic demo data."""

import time
from datetime import date
from typing import Any

from auditlog.context import set_actor
from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from accounts.demo import credentials_write, demo_users_create
from accounts.models import Organisation, User
from contactpoint.commands import Command as BaseCommand
from contactpoint.commands import positive_int
from directory.demo import (
    LOCAL_AUTHORITIES,
    NATIONAL_PARTNER,
    SERVICE_OPERATOR,
    DemoDirectory,
    local_authority_defaults,
)
from directory.models import Child
from shielding.policy import follow_every_shield

# Emptied by --replace: the directory, feeds and shields; never users or audit records.
REPLACED_APPS = ("directory", "shielding")


class Command(BaseCommand):
    """Loads realistic, deterministic English demo data and one demo user per role.

    Families with siblings, several current addresses for some children, parents overseas,
    schools and GP practices shared by many children, involvements with CAF and lead-professional
    flags, sensitive-service involvements, about 0.5% of children shielded and some 18+ for the
    archiving job. Everything is loaded in one transaction.
    """

    help = "Load deterministic demo children and one demo user per role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--children", type=positive_int, default=1000, metavar="N",
            help="how many children to load (default %(default)s)",
        )  # fmt: skip
        parser.add_argument(
            "--seed",
            type=int,
            default=settings.DEMO_SEED,
            metavar="S",
            help="the same seed always gives the same children (default DEMO_SEED: %(default)s)",
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--if-empty",
            action="store_true",
            help="if children are loaded already, keep them: only make the demo users' "
            "passwords and codes afresh and print them",
        )
        group.add_argument(
            "--replace",
            action="store_true",
            help="empty the directory (and its feeds and shields, not users or the audit "
            "log) first",
        )

    def handle(
        self, *args: Any, children: int, seed: int, if_empty: bool, replace: bool, **options: Any
    ) -> None:
        existing = Child.objects.count()
        if existing and if_empty:
            # The demo users are made afresh, so a newcomer always has working sign-in details.
            with transaction.atomic():
                self._organisations()
                credentials = self._demo_users(timezone.localdate())
            self.stdout.write(f"The directory already holds {existing:,} children.")
            self.stdout.write(credentials_write(credentials))
            return
        if existing and not replace:
            raise CommandError(
                f"The directory already holds {existing:,} children: use --replace to empty it "
                "first, or --if-empty to leave it.",
                returncode=2,
            )
        started = time.perf_counter()
        today = timezone.localdate()
        with transaction.atomic():
            if replace:
                with connection.cursor() as cursor:
                    # TRUNCATE refuses while deferred foreign-key checks are pending.
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    tables = [
                        model._meta.db_table
                        for app in REPLACED_APPS
                        for model in apps.get_app_config(app).get_models()
                    ]
                    cursor.execute(f"TRUNCATE {', '.join(tables)}")
            la_ids = self._organisations()
            credentials = self._demo_users(today)
            practitioners = {
                user.organisation.code: user.pk
                for user in User.objects.filter(username__in=["priya", "xavier"]).select_related(
                    "organisation"
                )
            }
            directory = DemoDirectory(children=children, seed=seed, today=today)
            with tqdm(total=children, unit=" children", desc="Generating", disable=None) as bar:
                counts = directory.load(
                    la_ids=la_ids, practitioners=practitioners, progress=bar.update
                )
        with connection.cursor() as cursor:
            # Fresh statistics, so that the first queries after a bulk load are planned well.
            cursor.execute("ANALYZE")
        # Families are shielded together; this also catches records of other families that
        # happen to share a shielded child's home or a carer's number.
        with set_actor(None):
            follow_every_shield()
        elapsed = time.perf_counter() - started
        summary = ", ".join(
            f"{count:,} {table.split('_', 1)[1]}" for table, count in counts.items()
        )
        self.stdout.write(f"Loaded {summary} in {elapsed:.1f} s (seed {seed}).")
        self.stdout.write(credentials_write(credentials))

    def _demo_users(self, today: date) -> list[str]:
        return demo_users_create(
            home_la=LOCAL_AUTHORITIES[0].code,
            other_la=LOCAL_AUTHORITIES[1].code,
            operator=SERVICE_OPERATOR[0],
            today=today,
        )

    def _organisations(self) -> dict[str, int]:
        la_ids = {}
        for la in LOCAL_AUTHORITIES:
            org, _ = Organisation.objects.update_or_create(
                code=la.code, defaults=local_authority_defaults(la)
            )
            la_ids[la.code] = org.pk
        for (code, name), kind in (
            (NATIONAL_PARTNER, Organisation.Kind.NATIONAL_PARTNER),
            (SERVICE_OPERATOR, Organisation.Kind.SERVICE_OPERATOR),
        ):
            Organisation.objects.update_or_create(code=code, defaults={"name": name, "kind": kind})
        return la_ids
