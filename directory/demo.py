"""Deterministic, realistic demo data: families across six English local authorities.

The same seed always gives the same children, so a newcomer, a screenshot and a bug report all
see the same directory. Rows are built in memory and loaded with PostgreSQL's COPY in one
transaction: 100,000 children load in seconds, and an interrupted load leaves nothing behind.
"""

import random
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection
from faker import Faker

from accounts.models import Organisation
from contactpoint.postcodes import normalise_postcode
from directory.matching import search_keys
from directory.models import (
    Address,
    CareRelationship,
    Child,
    ChildName,
    Gender,
    Involvement,
    NameKey,
    ParentCarer,
    SensitiveCategory,
    Service,
    Source,
)
from shielding.models import Shield


@dataclass(frozen=True)
class DemoLocalAuthority:
    code: str
    name: str
    weight: int
    towns: tuple[str, ...]
    outward_codes: tuple[str, ...]
    # Its area's numbers, each "#" a digit: 11 digits in all, as every UK number has.
    phone_pattern: str

    def phone(self, digits: str) -> str:
        """A number of its area, its "#"s the first of ``digits`` (7 are enough for any)."""
        filling = iter(digits)
        return "".join(next(filling) if c == "#" else c for c in self.phone_pattern)

    @property
    def team_email(self) -> str:
        slug = self.name.lower().replace(" ", "-")
        return f"contactpoint-team@{slug}.example.org"


# fmt: off
LOCAL_AUTHORITIES = (
    DemoLocalAuthority(
        "E08000003", "Manchester", 5, ("Manchester", "Didsbury", "Gorton", "Moss Side"),
        ("M1", "M4", "M8", "M9", "M11", "M12", "M13", "M14", "M15", "M16", "M18", "M19", "M20",
         "M21", "M22", "M23", "M40"),
        "0161 ### ####",
    ),
    DemoLocalAuthority(
        "E08000035", "Leeds", 4, ("Leeds", "Headingley", "Chapeltown", "Morley"),
        ("LS1", "LS2", "LS4", "LS6", "LS7", "LS8", "LS9", "LS11", "LS12", "LS15", "LS27"),
        "0113 ### ####",
    ),
    DemoLocalAuthority(
        "E09000007", "Camden", 2, ("London", "Kentish Town", "Hampstead"),
        ("NW1", "NW3", "NW5", "NW6", "WC1H", "WC1N", "WC1X"),
        "020 7### ####",
    ),
    DemoLocalAuthority(
        "E06000023", "Bristol", 3, ("Bristol", "Bedminster", "Easton", "Southmead"),
        ("BS1", "BS2", "BS3", "BS4", "BS5", "BS6", "BS7", "BS10", "BS13", "BS14", "BS16"),
        "0117 ### ####",
    ),
    DemoLocalAuthority(
        "E10000016", "Kent", 5, ("Maidstone", "Canterbury", "Ashford", "Tunbridge Wells", "Dover"),
        ("ME14", "ME15", "ME16", "CT1", "CT2", "CT16", "CT17", "TN23", "TN24", "TN1", "TN2"),
        "01622 ######",
    ),
    DemoLocalAuthority(
        "E08000025", "Birmingham", 6, ("Birmingham", "Sparkbrook", "Erdington", "Selly Oak"),
        ("B5", "B6", "B8", "B10", "B11", "B12", "B13", "B14", "B23", "B24", "B29", "B31"),
        "0121 ### ####",
    ),
)
# fmt: on
NATIONAL_PARTNER = ("NP0001", "National Children's Charity (demo)")
SERVICE_OPERATOR = ("CPNATIONAL", "ContactPoint National Service")

# Popular names of children born in England and Wales in recent years, with the spelling
# variants and accents that search must cope with.
GIRLS_NAMES = tuple(
    """
    Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Willow Florence Emily
    Ella Poppy Evie Elsie Charlotte Evelyn Sienna Sofia Daisy Phoebe Sophie Alice Harper Matilda
    Ruby Emilia Maya Millie Isabelle Eva Luna Chloé Zoë Aisha Fatima Maryam Amira Hannah
    Catherine Kathryn Katherine Zara Niamh Siobhán Aoife Hafsa Zainab Jessica Megan Lucy Molly
    Elizabeth Beatrice Priya Ananya Oluwaseun Chiamaka Kinga Zuzanna
    """.split()
)
BOYS_NAMES = tuple(
    """
    Muhammad Mohammed Mohammad Noah Oliver George Arthur Leo Harry Oscar Archie Henry Theodore
    Freddie Jack Charlie Theo Alfie Jacob Thomas Finley Arlo William Lucas Roman Tommy Isaac
    Teddy Alexander Luca Edward James Joshua Albie Elijah Max Reggie Hugo Louie Stephen Steven
    José Oisín Ibrahim Yusuf Omar Adam Rory Sebastian Daniel Samuel Joseph Benjamin Ethan Jayden
    Kacper Jakub Tobiloba Chukwuemeka Arjun Rohan Hamza Bilal Callum
    """.split()
)
NICKNAMES = dict(
    pair.split(":")
    for pair in """
    Elizabeth:Beth Katherine:Kate Catherine:Cathy Alexander:Alex William:Billy Thomas:Tom
    Joseph:Joe Samuel:Sam Benjamin:Ben Isabella:Bella Matilda:Tilly Edward:Ted Daniel:Danny
    Jessica:Jess Sebastian:Seb Charlotte:Lottie Theodore:Theo
    """.split()
)
EXTRA_SURNAMES = tuple(
    name.strip()
    for name in """
    O'Brien, O'Connor, D'Souza, Khan, Ahmed, Patel, Begum, Hussain, Singh, Kaur, Nowak, Kowalski,
    Okafor, Adeyemi, Nguyen, Chen, Müller, Brontë, MacDonald, McDonald, Ali, Rahman, Mensah,
    Osei, Da Silva, Van der Berg
    """.split(",")
)
# fmt: off
OVERSEAS = (
    ("FR", "Lyon", "69003"), ("ES", "Valencia", "46001"), ("PL", "Kraków", "31-042"),
    ("IN", "Pune", "411001"), ("NG", "Lagos", "100001"), ("US", "Boston", "MA 02108"),
    ("AE", "Dubai", ""), ("IE", "Cork", "T12 X70A"),
)
# fmt: on
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters Royal Mail uses in an inward code
SCHOOL_PATTERNS = (
    "{} Primary School",
    "{} Academy",
    "{} Community Primary School",
    "{} High School",
    "St {}'s C of E Primary School",
    "{} Infant and Nursery School",
    "{} Junior School",
)
DEMO_CASELOAD = 12
WRITE_EVERY = 200_000  # children generated between COPYs
# Sensitive-service involvements: the youngest age and the chance for each child.
SENSITIVE_CHANCES = (
    (SensitiveCategory.MENTAL_HEALTH, 11, 0.01),
    (SensitiveCategory.SEXUAL_HEALTH, 13, 0.004),
    (SensitiveCategory.SUBSTANCE_MISUSE, 12, 0.003),
)
SAINTS = ("Mary", "John", "Peter", "Anne", "Paul", "Luke", "Michael", "Bede", "Hilda")


@dataclass
class Rows:
    """The rows of one table, with the columns COPY writes them to."""

    table: str
    columns: tuple[str, ...]
    first_id: int
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    written: int = 0  # rows already COPYed and dropped from memory

    def add(self, *values: Any) -> int:
        row_id = self.next_id
        self.rows.append((row_id, *values))
        return row_id

    @property
    def next_id(self) -> int:
        return self.first_id + self.written + len(self.rows)

    def row(self, row_id: int) -> tuple[Any, ...]:
        """A row not yet written (rows are written between families, never within one)."""
        return self.rows[row_id - self.first_id - self.written]

    def write(self, cursor: Any) -> None:
        if not self.rows:
            return
        with cursor.copy(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN") as copy:
            for values in self.rows:
                copy.write_row(values)
        self.written += len(self.rows)
        self.rows.clear()


PROVENANCE = ("source", "source_reference", "received_at")


def _anniversary(day: date, years: int) -> date:
    """The same day ``years`` later; 29 February becomes 28 February in other years."""
    return date(day.year + years, day.month, min(day.day, 28 if day.month == 2 else day.day))


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """Without duplicates, in first-seen order (a set's order varies between runs)."""
    return tuple(dict.fromkeys(values))


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())


class DemoDirectory:
    """Builds a deterministic directory of ``children`` children and loads it with COPY."""

    def __init__(self, *, children: int, seed: int, today: date) -> None:
        self.target = children
        self.seed = seed
        self.today = today
        self.rng = random.Random(seed)
        faker = Faker("en_GB")
        faker.seed_instance(seed)
        self.surnames = tuple(faker.unique.last_name() for _ in range(450)) + EXTRA_SURNAMES
        self.adult_female = _unique(faker.first_name_female() for _ in range(400))
        self.adult_male = _unique(faker.first_name_male() for _ in range(400))
        self.streets = _unique(faker.street_name() for _ in range(3000))
        self.received_at = datetime(today.year, today.month, 1, 6, 0, tzinfo=UTC)
        self.children_made = 0
        self.shielded_children: list[int] = []
        self.caseloads: dict[int, int] = {}

    # Rows ------------------------------------------------------------------------------

    def _tables(self, first_ids: dict[str, int]) -> None:
        def rows(model: Any, *columns: str) -> Rows:
            table = model._meta.db_table
            return Rows(table, ("id", *columns), first_ids[table])

        self.children = rows(
            Child,
            "given_name",
            "middle_names",
            "family_name",
            "gender",
            "date_of_birth",
            "date_of_death",
            "status",
            "archived_on",
            "local_authority_id",
            "updated_at",
            *PROVENANCE,
        )
        self.names = rows(ChildName, "child_id", "kind", "given_name", "family_name", *PROVENANCE)
        self.name_keys = rows(NameKey, "child_id", "family_key", "given_key", "date_of_birth")
        self.addresses = rows(
            Address,
            "child_id",
            "kind",
            "line_1",
            "line_2",
            "town",
            "postcode",
            "expected_return_by",
            "started_on",
            "ended_on",
            *PROVENANCE,
        )
        self.carers = rows(
            ParentCarer,
            "given_name",
            "family_name",
            "phone",
            "email",
            "line_1",
            "line_2",
            "town",
            "postcode",
            "country",
            *PROVENANCE,
        )
        self.relationships = rows(
            CareRelationship,
            "child_id",
            "carer_id",
            "relationship",
            "parental_responsibility",
            "started_on",
            "ended_on",
            *PROVENANCE,
        )
        self.services = rows(
            Service,
            "name",
            "kind",
            "identifier",
            "phone",
            "email",
            "line_1",
            "line_2",
            "town",
            "postcode",
            "local_authority_id",
            *PROVENANCE,
        )
        self.involvements = rows(
            Involvement,
            "child_id",
            "service_id",
            "practitioner_id",
            "role",
            "started_on",
            "ended_on",
            "caf_held",
            "lead_professional",
            "sensitive_category",
            "sensitive_basis",
            "sensitive_basis_note",
            *PROVENANCE,
        )
        self.shields = rows(
            Shield,
            "child_id",
            "reason",
            "justification",
            "review_on",
            "shielded_by_id",
            "shielded_at",
        )

    def all_rows(self) -> list[Rows]:
        return [
            self.services,
            self.children,
            self.names,
            self.name_keys,
            self.addresses,
            self.carers,
            self.relationships,
            self.involvements,
            self.shields,
        ]

    def _provenance(self, source: Source, row: int) -> tuple[str, str, datetime]:
        return (source.value, f"demo seed {self.seed}, row {row}", self.received_at)

    def _home_provenance(self, row: int, since: date) -> tuple[str, str, datetime]:
        """A home from child benefit, received the day it is recorded since, as a feed's is:
        no feed gives the day a child moved in."""
        source, reference, _ = self._provenance(Source.CHILD_BENEFIT, row)
        return (source, reference, datetime.combine(since, time(6), tzinfo=UTC))

    # Places and services -----------------------------------------------------------------

    def postcode(self, la: DemoLocalAuthority) -> str:
        rng = self.rng
        raw = f"{rng.choice(la.outward_codes)} {rng.randint(1, 9)}{rng.choice(INWARD_LETTERS)}"
        postcode = normalise_postcode(raw + rng.choice(INWARD_LETTERS))
        assert postcode is not None, raw
        return postcode

    def street_line(self) -> str:
        return f"{self.rng.randint(1, 240)} {self.rng.choice(self.streets)}"

    def phone(self, la: DemoLocalAuthority | None = None) -> str:
        if la is None:
            return f"07{self.rng.randint(100, 999)} {self.rng.randint(100000, 999999)}"
        return la.phone(f"{self.rng.randint(100, 999)}{self.rng.randint(1000, 9999)}")

    def _service(
        self, la: DemoLocalAuthority, la_id: int, kind: Service.Kind, name: str, identifier: str
    ) -> int:
        slug = "".join(c for c in name.lower() if c.isalnum())[:24]
        return self.services.add(
            name,
            kind.value,
            identifier,
            self.phone(la),
            f"office@{slug}.example.org",
            self.street_line(),
            "",
            self.rng.choice(la.towns),
            self.postcode(la),
            la_id,
            *self._provenance(Source.LA_SYSTEM, self.services.next_id - self.services.first_id),
        )

    def _school_name(self) -> str:
        pattern = self.rng.choice(SCHOOL_PATTERNS)
        place = self.rng.choice(self.streets).split()[0]
        return pattern.format(self.rng.choice(SAINTS) if pattern.startswith("St ") else place)

    def _make_services(self, la_ids: dict[str, int]) -> None:
        """Schools and GP practices shared by many children, and one of each other service."""
        rng = self.rng
        total_weight = sum(la.weight for la in LOCAL_AUTHORITIES)
        self.schools: dict[str, list[int]] = {}
        self.early_years: dict[str, list[int]] = {}
        self.gps: dict[str, list[int]] = {}
        self.other: dict[str, dict[Service.Kind, int]] = {}
        for la_index, la in enumerate(LOCAL_AUTHORITIES):
            la_id = la_ids[la.code]
            share = self.target * la.weight // total_weight
            self.schools[la.code] = [
                self._service(
                    la,
                    la_id,
                    Service.Kind.SCHOOL,
                    self._school_name(),
                    f"{100000 + la_index * 100000 + n}",
                )
                for n in range(max(3, share // 250))
            ]
            self.early_years[la.code] = [
                self._service(
                    la,
                    la_id,
                    Service.Kind.EARLY_YEARS,
                    f"{rng.choice(self.streets).split()[0]} Nursery",
                    f"EY{300000 + la_index * 100000 + n}",
                )
                for n in range(max(2, share // 600))
            ]
            self.gps[la.code] = [
                self._service(
                    la,
                    la_id,
                    Service.Kind.GP_PRACTICE,
                    f"{rng.choice(self.streets).split()[0]} "
                    f"{rng.choice(('Medical Centre', 'Surgery', 'Health Centre'))}",
                    f"P{81000 + la_index * 10000 + n}",
                )
                for n in range(max(2, share // 1500))
            ]
            self.other[la.code] = {
                kind: self._service(la, la_id, kind, f"{la.name} {label}", "")
                for kind, label in (
                    (Service.Kind.HEALTH_VISITING, "Health Visiting Team"),
                    (Service.Kind.SCHOOL_NURSING, "School Nursing Service"),
                    (Service.Kind.SOCIAL_CARE, "Children's Social Care"),
                    (Service.Kind.EARLY_HELP, "Early Help Team"),
                    (Service.Kind.YOUTH_JUSTICE, "Youth Justice Service"),
                    (Service.Kind.POLICE, "Police Child Protection Unit"),
                    (Service.Kind.VOLUNTARY, "Family Support (voluntary sector)"),
                    (Service.Kind.MENTAL_HEALTH, "CAMHS"),
                    (Service.Kind.SEXUAL_HEALTH, "Young People's Sexual Health Clinic"),
                    (Service.Kind.SUBSTANCE_MISUSE, "Young People's Substance Misuse Service"),
                )
            }

    # Families ----------------------------------------------------------------------------

    def families(self, la_ids: dict[str, int], practitioners: dict[str, int]) -> Iterator[int]:
        """Makes families until there are enough children; yields each family's child count."""
        rng = self.rng
        weights = [la.weight for la in LOCAL_AUTHORITIES]
        while self.children_made < self.target:
            la = rng.choices(LOCAL_AUTHORITIES, weights)[0]
            size = min(
                rng.choices((1, 2, 3, 4), (40, 35, 18, 7))[0], self.target - self.children_made
            )
            self._family(la, la_ids[la.code], size, practitioners.get(la.code))
            self.children_made += size
            yield size

    def _family(
        self, la: DemoLocalAuthority, la_id: int, size: int, practitioner: int | None
    ) -> None:
        rng = self.rng
        surname = rng.choice(self.surnames)
        if rng.random() < 0.04:
            surname = f"{surname}-{rng.choice(self.surnames)}"
        home = (self.street_line(), "", rng.choice(la.towns), self.postcode(la))
        carers = [self._carer(la, surname, home, "mother")]
        if rng.random() < 0.8:
            apart = rng.random() < 0.08
            carer_home = (self.street_line(), "", rng.choice(la.towns), self.postcode(la))
            carers.append(
                self._carer(
                    la,
                    rng.choice(self.surnames) if apart else surname,
                    carer_home if apart else home,
                    "father",
                    apart=apart,
                )
            )
        # Oldest first, siblings one to four years apart; a few are 18 or over, for archiving.
        age_days = (
            rng.randint(0, 18 * 365) if rng.random() > 0.03 else rng.randint(18 * 365, 20 * 365)
        )
        # A shielded child's brothers and sisters share her home and mother: shielded with her.
        shielded = rng.random() < 0.005
        for _ in range(size):
            self._child(la, la_id, surname, home, carers, age_days, practitioner, shielded)
            age_days -= rng.randint(365, 4 * 365)
            if age_days < 0:
                age_days = rng.randint(0, 364)

    def _carer(
        self,
        la: DemoLocalAuthority,
        surname: str,
        home: tuple[str, str, str, str],
        role: str,
        *,
        apart: bool = False,
    ) -> tuple[int, str, bool]:
        rng = self.rng
        given = rng.choice(self.adult_female if role == "mother" else self.adult_male)
        line_1, line_2, town, postcode = home
        country = "GB"
        if rng.random() < 0.01:  # a parent living abroad, the child at school in England
            country, town, postcode = rng.choice(OVERSEAS)
            line_1, line_2, apart = f"{rng.randint(1, 99)} {rng.choice(self.streets)}", "", True
        email = f"{_ascii(given).lower()}.{_ascii(surname).lower()}{rng.randint(1, 99)}@example.com"
        carer_id = self.carers.add(
            given,
            surname,
            self.phone(),
            email if rng.random() < 0.7 else "",
            line_1,
            line_2,
            town,
            postcode,
            country,
            *self._provenance(Source.CHILD_BENEFIT, self.carers.next_id - self.carers.first_id),
        )
        return carer_id, role, apart

    def _child(
        self,
        la: DemoLocalAuthority,
        la_id: int,
        surname: str,
        home: tuple[str, str, str, str],
        carers: list[tuple[int, str, bool]],
        age_days: int,
        practitioner: int | None,
        shielded: bool,
    ) -> None:
        rng = self.rng
        born = self.today - timedelta(days=age_days)
        age = age_days // 365
        roll = rng.random()
        gender = (
            Gender.FEMALE
            if roll < 0.49
            else Gender.MALE
            if roll < 0.98
            else Gender.NOT_KNOWN
            if roll < 0.99
            else Gender.NOT_SPECIFIED
        )
        given = rng.choice(
            GIRLS_NAMES
            if gender == Gender.FEMALE
            else BOYS_NAMES
            if gender == Gender.MALE
            else GIRLS_NAMES + BOYS_NAMES
        )
        middle = rng.choice(GIRLS_NAMES + BOYS_NAMES) if rng.random() < 0.5 else ""
        status, archived_on, died = Child.Status.ACTIVE, None, None
        if age >= 18 and rng.random() < 0.5:
            status, archived_on = Child.Status.ARCHIVED, _anniversary(born, 18)
        elif rng.random() < 0.0005:
            status, died = Child.Status.DECEASED, self.today - timedelta(days=rng.randint(1, 700))
            died = max(died, born)
        n = self.children.next_id - self.children.first_id
        child = self.children.add(
            given,
            middle,
            surname,
            gender.value,
            born,
            died,
            status.value,
            archived_on,
            la_id,
            self.received_at,
            *self._provenance(Source.LA_SYSTEM, n),
        )
        names = [(given, surname)]
        if rng.random() < 0.02:
            names.append((given, rng.choice(self.surnames)))
            self.names.add(
                child,
                ChildName.Kind.FORMER.value,
                *names[-1],
                *self._provenance(Source.LA_SYSTEM, n),
            )
        if given in NICKNAMES and rng.random() < 0.5:
            names.append((NICKNAMES[given], surname))
            self.names.add(
                child,
                ChildName.Kind.KNOWN_AS.value,
                *names[-1],
                *self._provenance(Source.LA_SYSTEM, n),
            )
        for family_key, given_key in search_keys(names):
            self.name_keys.add(child, family_key, given_key, born)
        self._addresses(la, child, born, home, n)
        for carer_id, role, apart in carers:
            self.relationships.add(
                child,
                carer_id,
                role,
                rng.random() < 0.97,
                born,
                None,
                *self._provenance(Source.CHILD_BENEFIT, n),
            )
            if apart and rng.random() < 0.7:  # parents apart: the child lives with both
                carer_row = self.carers.row(carer_id)
                if carer_row[-4] == "GB":
                    self.addresses.add(
                        child,
                        Address.Kind.RESIDENTIAL.value,
                        *carer_row[5:9],
                        None,
                        born,
                        None,
                        *self._home_provenance(n, born),
                    )
        self._involvements(la, child, born, age, n, practitioner)
        if shielded:
            self.shielded_children.append(child)
            self.shields.add(
                child,
                rng.choice(Shield.Reason.values),
                "Disclosing the child's whereabouts would put them at risk (demo data).",
                self.today + timedelta(days=rng.randint(1, 182)),
                None,
                self.received_at,
            )

    def _addresses(
        self,
        la: DemoLocalAuthority,
        child: int,
        born: date,
        home: tuple[str, str, str, str],
        row: int,
    ) -> None:
        rng = self.rng
        provenance = self._provenance(Source.CHILD_BENEFIT, row)
        received = self.received_at.date()
        roll = rng.random()
        if roll < 0.003:
            self.addresses.add(
                child,
                Address.Kind.NO_KNOWN_ADDRESS.value,
                "",
                "",
                "",
                "",
                None,
                received,
                None,
                *provenance,
            )
            return
        if roll < 0.005:
            self.addresses.add(
                child,
                Address.Kind.LEFT_ENGLAND.value,
                "",
                "",
                "",
                "",
                self.today + timedelta(days=rng.randint(200, 1000)),
                received,
                None,
                *provenance,
            )
            return
        moved = born + timedelta(days=rng.randint(0, max(1, (self.today - born).days)))
        if rng.random() < 0.2 and moved > born:
            self.addresses.add(
                child,
                Address.Kind.RESIDENTIAL.value,
                self.street_line(),
                "",
                rng.choice(la.towns),
                self.postcode(la),
                None,
                born,
                moved,
                *self._home_provenance(row, born),
            )
            self.addresses.add(
                child,
                Address.Kind.RESIDENTIAL.value,
                *home,
                None,
                moved,
                None,
                *self._home_provenance(row, moved),
            )
        else:
            self.addresses.add(
                child,
                Address.Kind.RESIDENTIAL.value,
                *home,
                None,
                born,
                None,
                *self._home_provenance(row, born),
            )

    def _involve(
        self,
        child: int,
        service: int | None,
        started: date,
        row: int,
        source: Source,
        *,
        practitioner: int | None = None,
        role: str = "",
        ended: date | None = None,
        caf: bool = False,
        lead: bool = False,
        sensitive: SensitiveCategory | None = None,
    ) -> None:
        self.involvements.add(
            child,
            service,
            practitioner,
            role,
            min(started, self.today),
            ended,
            caf,
            lead,
            sensitive.value if sensitive else "",
            "consent" if sensitive else "",
            "Recorded with the young person's consent (demo data)." if sensitive else "",
            *self._provenance(source, row),
        )

    def _caseload_place(self, practitioner: int | None) -> int | None:
        """This LA's demo practitioner for its first few young children: a small caseload."""
        if practitioner is None or self.caseloads.get(practitioner, 0) >= DEMO_CASELOAD:
            return None
        self.caseloads[practitioner] = self.caseloads.get(practitioner, 0) + 1
        return practitioner

    def _involvements(
        self,
        la: DemoLocalAuthority,
        child: int,
        born: date,
        age: int,
        row: int,
        practitioner: int | None,
    ) -> None:
        rng = self.rng
        other = self.other[la.code]
        self._involve(
            child,
            rng.choice(self.gps[la.code]),
            born + timedelta(days=rng.randint(14, 60)),
            row,
            Source.GP_REGISTRATION,
        )
        if 4 <= age <= 17:
            start = date(born.year + 4 + (born.month >= 9), 9, 3)
            if age >= 11 and rng.random() < 0.6:  # moved from primary to secondary school
                transfer = date(born.year + 11 + (born.month >= 9), 9, 2)
                self._involve(
                    child,
                    rng.choice(self.schools[la.code]),
                    start,
                    row,
                    Source.SCHOOL_CENSUS,
                    ended=transfer - timedelta(days=60),
                )
                start = transfer
            self._involve(
                child, rng.choice(self.schools[la.code]), start, row, Source.SCHOOL_CENSUS
            )
        elif 2 <= age < 4 and rng.random() < 0.6:
            self._involve(
                child,
                rng.choice(self.early_years[la.code]),
                born + timedelta(days=2 * 365 + rng.randint(0, 200)),
                row,
                Source.LA_SYSTEM,
            )
        if age < 5 and rng.random() < 0.6:
            self._involve(
                child,
                other[Service.Kind.HEALTH_VISITING],
                born + timedelta(days=12),
                row,
                Source.LA_SYSTEM,
                practitioner=self._caseload_place(practitioner),
                role="Health visitor",
            )
        if age >= 18:
            return
        since = self.today - timedelta(days=rng.randint(30, 900))
        since = max(since, born)
        roll = rng.random()
        if roll < 0.03:  # a Common Assessment Framework with a lead professional
            self._involve(
                child,
                other[Service.Kind.EARLY_HELP],
                since,
                row,
                Source.LA_SYSTEM,
                role="Family support worker",
                caf=True,
                lead=True,
            )
        elif roll < 0.06:
            kind = rng.choice(
                (Service.Kind.SOCIAL_CARE, Service.Kind.VOLUNTARY, Service.Kind.POLICE)
                if age < 10
                else (Service.Kind.SOCIAL_CARE, Service.Kind.YOUTH_JUSTICE, Service.Kind.VOLUNTARY)
            )
            self._involve(
                child,
                other[kind],
                since,
                row,
                Source.LA_SYSTEM,
                ended=max(since, self.today - timedelta(days=rng.randint(0, 25)))
                if rng.random() < 0.3
                else None,
            )
        for category, youngest, chance in SENSITIVE_CHANCES:
            if age >= youngest and rng.random() < chance:
                self._involve(
                    child,
                    other[Service.Kind(category.value)],
                    since,
                    row,
                    Source.LA_SYSTEM,
                    sensitive=category,
                )

    # Loading -----------------------------------------------------------------------------

    def load(
        self,
        *,
        la_ids: dict[str, int],
        practitioners: dict[str, int],
        progress: Callable[[int], object],
    ) -> dict[str, int]:
        """Builds and COPYs every row; the caller holds the transaction. Returns row counts."""
        tables = [
            m._meta.db_table
            for m in (
                Service,
                Child,
                ChildName,
                NameKey,
                Address,
                ParentCarer,
                CareRelationship,
                Involvement,
                Shield,
            )
        ]
        with connection.cursor() as cursor:
            first_ids = {}
            for table in tables:
                # Rows get their ids here, so the table is locked until the transaction ends.
                cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
                cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
                first_ids[table] = cursor.fetchone()[0]
            self._tables(first_ids)
            self._make_services(la_ids)
            since_written = 0
            for size in self.families(la_ids, practitioners):
                progress(size)
                since_written += size
                if since_written >= WRITE_EVERY:  # bounded memory, whatever the size
                    for rows in self.all_rows():
                        rows.write(cursor)
                    since_written = 0
            counts = {}
            for rows in self.all_rows():
                rows.write(cursor)
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)",
                    [rows.table, max(rows.next_id - 1, rows.first_id), rows.written > 0],
                )
                counts[rows.table] = rows.written
        return counts


def local_authority_defaults(la: DemoLocalAuthority) -> dict[str, str]:
    return {
        "name": la.name,
        "kind": Organisation.Kind.LOCAL_AUTHORITY,
        "team_name": f"{la.name} ContactPoint team",
        "team_phone": la.phone(f"4960{LOCAL_AUTHORITIES.index(la)}00"),
        "team_email": la.team_email,
    }
