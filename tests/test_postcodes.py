"""UK postcodes are validated and stored in one normal form, and PostgreSQL enforces that form."""

import pytest
from django.db import IntegrityError, transaction

from contactpoint.postcodes import normalise_postcode, outward_code
from directory.models import Address, Source
from tests.personas import make_child


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("sw1a1aa", "SW1A 1AA"),
        ("  SW1A   1AA ", "SW1A 1AA"),
        ("m1 1ae", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("W1A 0AX", "W1A 0AX"),
        ("EC1A 1BB", "EC1A 1BB"),
    ],
)
def test_it_normalises_valid_postcodes(typed, stored):
    assert normalise_postcode(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["", "SW1A", "12345", "QW1 1AA", "SW1A 1AC", "M1 1AEE", "M1-1AE", "ZZZZ ZZZ", "M1 1Ä"],
)
def test_it_rejects_what_is_not_a_uk_postcode(typed):
    assert normalise_postcode(typed) is None


def test_it_knows_the_outward_code():
    assert outward_code("SW1A 1AA") == "SW1A"


@pytest.mark.django_db
def test_the_database_refuses_a_postcode_not_in_stored_form():
    child = make_child()
    with (
        pytest.raises(IntegrityError, match="address_postcode_is_normalised"),
        transaction.atomic(),
    ):
        Address.objects.create(
            child=child, line_1="1 High Street", postcode="sw1a1aa", source=Source.LA_SYSTEM
        )
