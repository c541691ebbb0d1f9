"""`python manage.py create_user USERNAME --organisation CODE [--new-organisation NAME] --role ROLE
[--role ROLE …] [--vetting-checked-on YYYY-MM-DD --training-completed-on YYYY-MM-DD]`."""

from argparse import ArgumentTypeError
from datetime import date
from typing import Any

from auditlog.context import set_actor
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import CharField
from django.utils import timezone

from accounts import services
from accounts.forms import OrganisationForm, UserForm
from accounts.models import Organisation, User
from accounts.roles import Role
from contactpoint.commands import Command as BaseCommand


def _past_date(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None
    if day > date.today():
        raise ArgumentTypeError(f"{text} is in the future")
    return day


class Command(BaseCommand):
    """Creates a user and prints the one-time set-up link they finish with (for bootstrapping).

    The link is valid for 72 hours; the user chooses a password and enrols two-factor sign-in.
    Until their vetting and training dates are recorded the user cannot get past sign-in: an
    administrator records them, or, for the first administrator of a new deployment (whom no
    one else can vouch for), this command, from the checks made before it was run. A new
    deployment holds no organisation either, and only a national administrator adds one: with
    ``--new-organisation NAME`` the command makes the service operator her organisation.
    """

    help = "Create a user and print their one-time set-up link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the name she signs in with")
        parser.add_argument(
            "--organisation", required=True, metavar="CODE",
            help="her organisation's code (an LA's ONS code, such as E08000003)",
        )  # fmt: skip
        parser.add_argument(
            "--new-organisation", metavar="NAME",
            help="a new deployment's first administrator: make the service operator, named "
            "NAME, under --organisation CODE",
        )  # fmt: skip
        parser.add_argument(
            "--role", action="append", required=True, choices=Role.values, dest="roles",
            help="a role she holds; give --role again for each other role",
        )  # fmt: skip
        parser.add_argument("--email", default="", help="her work email address")
        parser.add_argument("--first-name", default="", help="her first name")
        parser.add_argument("--last-name", default="", help="her last name")
        parser.add_argument(
            "--vetting-checked-on", type=_past_date, metavar="YYYY-MM-DD",
            help="the day her vetting check was made; without it she cannot get past sign-in",
        )  # fmt: skip
        parser.add_argument(
            "--training-completed-on", type=_past_date, metavar="YYYY-MM-DD",
            help="the day she completed ContactPoint training; without it, as for vetting",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        for name in ("username", "email", "first_name", "last_name"):
            field = User._meta.get_field(name)
            assert isinstance(field, CharField)
            longest = field.max_length or 0
            if len(options[name]) > longest:
                raise CommandError(
                    f"The {name.replace('_', ' ')} must be {longest} characters or fewer",
                    returncode=2,
                )
        try:  # as the administrators' form has it
            UserForm.base_fields["username"].clean(username)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages), returncode=2) from None
        if User.objects.filter(username__iexact=username).exists():
            raise CommandError(f"A user called {username!r} already exists", returncode=2)
        organisation = Organisation.objects.filter(code=options["organisation"]).first()
        new_organisation = None
        if options["new_organisation"] is not None:
            new_organisation = self._new_organisation(
                options["organisation"], options["new_organisation"]
            )
        elif organisation is None:
            raise CommandError(
                f"No organisation has the code {options['organisation']!r} (a new deployment's "
                "first administrator makes hers with --new-organisation NAME)",
                returncode=2,
            )
        # As the administrators' form has it: a check too old to give access is a mistake.
        checked = User(
            vetting_checked_on=options["vetting_checked_on"],
            training_completed_on=options["training_completed_on"],
        )
        for option, runs_out in (
            ("--vetting-checked-on", checked.vetting_expires_on()),
            ("--training-completed-on", checked.training_expires_on()),
        ):
            if runs_out is not None and runs_out <= timezone.localdate():
                raise CommandError(
                    f"{option} is too long ago: that check no longer gives access", returncode=2
                )
        if options["email"]:
            try:
                validate_email(options["email"])
            except ValidationError:
                raise CommandError(
                    f"{options['email']!r} is not an email address", returncode=2
                ) from None
        try:
            with set_actor(None), transaction.atomic():
                if new_organisation is not None:
                    organisation = services.organisation_save(organisation=new_organisation)
                assert organisation is not None
                user, link = services.user_create(
                    username=username,
                    organisation=organisation,
                    roles=[Role(role) for role in dict.fromkeys(options["roles"])],
                    email=options["email"],
                    first_name=options["first_name"],
                    last_name=options["last_name"],
                    vetting_checked_on=options["vetting_checked_on"],
                    training_completed_on=options["training_completed_on"],
                    by=None,
                )
        except services.UsernameTaken:  # taken by someone else since the check above
            raise CommandError(f"A user called {username!r} already exists", returncode=2) from None
        except services.CodeTaken:
            raise CommandError(
                f"An organisation has the code {options['organisation']!r} already", returncode=2
            ) from None
        if new_organisation is not None:
            self.stdout.write(
                f"Created the organisation {organisation.name} ({organisation.code})."
            )
        self.stdout.write(f"Created {user.username} at {organisation.name}.")
        self.stdout.write(f"Set-up link (valid for 72 hours, works once): {link}")

    @staticmethod
    def _new_organisation(code: str, name: str) -> Organisation:
        """The service operator, checked as a national administrator's form checks a new
        organisation (not saved yet): an LA needs its team's contact details, which she adds
        on the organisations page once she can sign in."""
        form = OrganisationForm({"code": code, "name": name, "kind": "service_operator"})
        if not form.is_valid():
            said = [str(message) for messages in form.errors.values() for message in messages]
            raise CommandError(" ".join(said), returncode=2)
        return form.save(commit=False)
