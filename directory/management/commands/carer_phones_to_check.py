"""`python manage.py carer_phones_to_check [--local-authority CODE]`: the records, per local
authority, whose parent's or carer's telephone is not a telephone number."""

from typing import Any

from django.core.management.base import CommandParser

from audit.models import Action
from audit.recorder import AuditNote, record_event
from contactpoint.commands import Command as BaseCommand
from contactpoint.commands import local_authority
from contactpoint.telephone_numbers import telephone_numbers_are_valid
from directory.contactpoint_id import display
from directory.models import CareRelationship, Child


class Command(BaseCommand):
    """Lists, for each LA's data managers, the records whose current parent or carer has a
    telephone a feed applied before phones were checked ("ask at reception", a mobile without
    its 0), which record pages show as "not a valid telephone number". Nothing is changed:
    a data manager opens each record (an audited view) and asks the LA's system for the right
    number. Only ContactPoint IDs and relationships are printed, never the value or a name,
    as a terminal keeps no log of who read them; the run is an access event naming each
    record it lists."""

    help = "List the records whose parent's or carer's telephone is not a telephone number."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--local-authority", metavar="CODE", help="only this local authority's records"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        links = CareRelationship.objects.filter(ended_on__isnull=True).exclude(carer__phone="")
        links = links.exclude(child__status=Child.Status.MERGED)
        if options["local_authority"]:
            la = local_authority(options["local_authority"])
            links = links.filter(child__local_authority=la)
        found: dict[str, list[str]] = {}
        rows = links.order_by("child__local_authority__name", "child__contactpoint_id").values_list(
            "child__local_authority__name", "child__contactpoint_id", "relationship", "carer__phone"
        )
        listed: list[str] = []
        for la_name, cp_id, relationship, phone in rows.iterator(chunk_size=2000):
            if not telephone_numbers_are_valid(phone):
                label = CareRelationship.Relationship(relationship).label.lower()
                found.setdefault(la_name, []).append(f"  {display(cp_id)}  {label}")
                listed.append(cp_id)
        # Every read of a child's record is an access event, a command's too: the records it
        # names, before it prints them (if the event cannot be written, nothing is shown).
        record_event(
            None,
            AuditNote(
                action=Action.ADMIN_ACTION,
                detail={
                    "action": "carer_phones_to_check",
                    "local_authority": options["local_authority"] or "",
                },
                result_ids=list(dict.fromkeys(listed)),
                result_count=len(set(listed)),
            ),
            status=None,
        )
        for la_name, lines in found.items():
            self.stdout.write(f"{la_name}: {len(lines)} to check")
            self.stdout.write("\n".join(lines))
        if not found:
            self.stdout.write("No parent's or carer's telephone needs checking.")
