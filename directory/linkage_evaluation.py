"""A labelled set for measuring the feed matching, generated like real feeds go wrong.

Existing children come in families (siblings share a surname and a postcode; about one family
in thirty has twins). Each existing child is then sent again as a feed row, usually exact but
sometimes moved house, with a nickname or a typo in a name, a mistyped date of birth, a new
surname, or two of these at once. Rows for children who are *not* in the directory are mixed
in: new siblings, unseen twins (same surname, date of birth and address) and strangers who
share a surname. The matcher then decides every row, and the decisions are scored.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from accounts.models import Organisation
from directory.demo import (
    BOYS_NAMES,
    GIRLS_NAMES,
    INWARD_LETTERS,
    LOCAL_AUTHORITIES,
    local_authority_defaults,
)
from directory.feed_import import feed_candidates, match_decision
from directory.feeds import FeedRow
from directory.matching import NICKNAMES, normalise, phonetic
from directory.models import Address, Child, Source
from directory.services import child_search_keys_rebuild

SURNAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Khan", "Ahmed", "Hussain", "Begum", "Ali", "Singh", "Kaur", "Nowak", "Okafor", "Murphy",
    "O'Brien", "Kowalski", "Nguyen", "Chen", "Hughes", "Edwards", "Hill", "Moore", "Clarke",
    "Harrison", "Scott", "Young", "Morris", "Hart", "Mensah", "Da Silva", "Smith-Jones",
)  # fmt: skip
CORRUPTIONS = (
    ("exact", 62), ("moved", 14), ("given_variant", 8), ("dob_typo", 6), ("surname_typo", 5),
    ("new_surname", 3), ("moved_and_typo", 2),
)  # fmt: skip


@dataclass
class Evaluation:
    true_rows: int = 0
    false_rows: int = 0
    merged_right: int = 0
    merged_wrong: int = 0
    reviewed: int = 0
    new_for_matches: int = 0

    @property
    def precision(self) -> float:
        merged = self.merged_right + self.merged_wrong
        return self.merged_right / merged if merged else 1.0

    @property
    def recall(self) -> float:
        return self.merged_right / self.true_rows if self.true_rows else 0.0


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.today = timezone.localdate()
        self.la = LOCAL_AUTHORITIES[0]

    def postcode(self) -> str:
        rng = self.rng
        letters = rng.choice(INWARD_LETTERS) + rng.choice(INWARD_LETTERS)
        return f"{rng.choice(self.la.outward_codes)} {rng.randint(1, 9)}{letters}"

    def given(self, gender: str, unlike: str = "") -> str:
        pool = GIRLS_NAMES if gender == "female" else BOYS_NAMES
        while True:
            name = self.rng.choice(pool)
            if not unlike or phonetic(normalise(name)) != phonetic(normalise(unlike)):
                return name

    def birth(self) -> date:
        return self.today - timedelta(days=self.rng.randint(30, 17 * 365))

    def typo(self, name: str) -> str:
        letters = list(name)
        position = self.rng.randrange(1, len(letters)) if len(letters) > 1 else 0
        letters[position] = self.rng.choice("aeiourlnst")
        return "".join(letters)

    def dob_typo(self, born: date) -> date:
        if born.day <= 12 and born.day != born.month:
            return date(born.year, born.day, born.month)
        for _ in range(20):
            shifted = born + timedelta(days=self.rng.choice((1, -1, 10, -10)))
            if shifted <= self.today:
                return shifted
        return born


def _row(number: int, given: str, family: str, born: date, gender: str, postcode: str) -> FeedRow:
    return FeedRow(
        number=number,
        record_id=f"eval-{number}",
        given_name=given,
        family_name=family,
        date_of_birth=born,
        gender=gender,
        address=("1 Test Street", "", "Manchester", postcode),
    )


def evaluate(*, families: int, seed: int) -> Evaluation:
    """Builds the labelled set in the database (call inside a transaction that is rolled back)
    and scores the matcher's decisions."""
    gen = _Generator(seed)
    rng = gen.rng
    la, _ = Organisation.objects.get_or_create(
        code=gen.la.code, defaults=local_authority_defaults(gen.la)
    )
    existing: list[tuple[Child, str]] = []
    unseen: list[FeedRow] = []
    for _ in range(families):
        surname, postcode = rng.choice(SURNAMES), gen.postcode()
        members = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            gender = rng.choice(("female", "male"))
            members.append((gen.given(gender), gender, gen.birth()))
        if rng.random() < 1 / 30:  # twins: the same birthday, names that do not sound alike
            gender = rng.choice(("female", "male"))
            members.append((gen.given(gender, unlike=members[0][0]), gender, members[0][2]))
        for given, gender, born in members:
            child = Child.objects.create(
                given_name=given, family_name=surname, gender=gender, date_of_birth=born,
                local_authority=la, source=Source.DEMO,
            )  # fmt: skip
            Address.objects.create(
                child=child, line_1="1 Test Street", postcode=postcode, source=Source.DEMO
            )
            existing.append((child, postcode))
        if rng.random() < 0.3:  # a sibling the directory has not met yet
            gender = rng.choice(("female", "male"))
            unseen.append(
                _row(0, gen.given(gender, members[0][0]), surname, gen.birth(), gender, postcode)
            )
        if rng.random() < 0.05:  # an unseen twin of a child the directory knows
            given, gender, born = members[0]
            unseen.append(_row(0, gen.given(gender, unlike=given), surname, born, gender, postcode))
        if rng.random() < 0.3:  # a stranger with the same surname
            gender = rng.choice(("female", "male"))
            unseen.append(_row(0, gen.given(gender), surname, gen.birth(), gender, gen.postcode()))
    child_search_keys_rebuild(child_ids=[child.pk for child, _ in existing])
    result = Evaluation()
    kinds = [kind for kind, _ in CORRUPTIONS]
    weights = [weight for _, weight in CORRUPTIONS]
    for number, (child, postcode) in enumerate(existing, start=1):
        kind = rng.choices(kinds, weights)[0]
        given, family, born, place = (
            child.given_name,
            child.family_name,
            child.date_of_birth,
            postcode,
        )
        if kind in ("moved", "moved_and_typo"):
            place = gen.postcode()
        if kind == "given_variant":
            nicknames = [
                nick.title() for nick, full in NICKNAMES.items() if normalise(given) in full
            ]
            given = rng.choice(nicknames) if nicknames else gen.typo(given)
        if kind in ("surname_typo", "moved_and_typo"):
            family = gen.typo(family)
        if kind == "dob_typo":
            born = gen.dob_typo(born)
        if kind == "new_surname":
            family = rng.choice([name for name in SURNAMES if name != family])
        row = _row(number, given, family, born, child.gender, place)
        result.true_rows += 1
        scored = feed_candidates(row)
        decision = match_decision(scored)
        if decision == "merge":
            if scored[0].child.pk == child.pk:
                result.merged_right += 1
            else:
                result.merged_wrong += 1
        elif decision == "review":
            result.reviewed += 1
        else:
            result.new_for_matches += 1
    for row in unseen:
        result.false_rows += 1
        decision = match_decision(feed_candidates(row))
        if decision == "merge":
            result.merged_wrong += 1
        elif decision == "review":
            result.reviewed += 1
    return result
