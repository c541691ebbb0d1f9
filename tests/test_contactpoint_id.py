"""ContactPoint IDs are issued by PostgreSQL: opaque, never reused, protected by a check digit."""

from itertools import pairwise

import pytest
from django.db import IntegrityError, connection, transaction

from directory import contactpoint_id
from directory.models import Child
from tests.personas import make_child


def issue_ids(count: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT contactpoint_id_next() FROM generate_series(1, %s)", [count])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_it_gives_every_new_child_a_valid_id():
    child = make_child()
    assert contactpoint_id.is_valid(child.contactpoint_id)
    assert Child.objects.get(pk=child.pk).contactpoint_id == child.contactpoint_id


@pytest.mark.django_db
def test_it_never_issues_the_same_id_twice():
    ids = issue_ids(20_000)
    assert len(set(ids)) == len(ids)
    assert all(contactpoint_id.is_valid(value) for value in ids)


@pytest.mark.django_db
def test_it_issues_ids_that_reveal_no_order():
    """Consecutive children must not get consecutive or increasing IDs."""
    ids = [int(value) for value in issue_ids(200)]
    increasing = sum(1 for a, b in pairwise(ids) if b > a)
    assert 60 < increasing < 140
    assert all(abs(b - a) > 10 for a, b in pairwise(ids))


@pytest.mark.django_db
def test_it_catches_every_single_digit_error_and_adjacent_swap():
    for value in issue_ids(50):
        for position in range(contactpoint_id.LENGTH):
            for digit in "0123456789":
                if digit != value[position]:
                    typo = value[:position] + digit + value[position + 1 :]
                    assert not contactpoint_id.is_valid(typo)
        for position in range(contactpoint_id.LENGTH - 1):
            a, b = value[position], value[position + 1]
            if a != b:
                swapped = value[:position] + b + a + value[position + 2 :]
                assert not contactpoint_id.is_valid(swapped)


@pytest.mark.django_db
def test_python_and_postgresql_agree_on_validity():
    candidates = [*issue_ids(20), "123456789012", "000000000000", "12345", "abcdefghijkl"]
    with connection.cursor() as cursor:
        for value in candidates:
            cursor.execute("SELECT contactpoint_id_is_valid(%s)", [value])
            assert cursor.fetchone()[0] == contactpoint_id.is_valid(value), value


@pytest.mark.django_db
def test_the_database_rejects_an_id_with_a_wrong_check_digit():
    child = make_child()
    wrong = child.contactpoint_id[:-1] + str((int(child.contactpoint_id[-1]) + 1) % 10)
    with (
        pytest.raises(IntegrityError, match="child_contactpoint_id_check_digit"),
        transaction.atomic(),
    ):
        Child.objects.filter(pk=child.pk).update(contactpoint_id=wrong)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("1234 5678 9018", "123456789018"),  # 8 is the Damm check digit of 12345678901
        ("1234 5678 9012", None),
        ("", None),
        ("12345678901", None),
        ("１２３４５６７８９０１２", None),  # full-width digits are not ASCII digits
    ],
)
def test_it_normalises_typed_ids_and_rejects_invalid_ones(typed, stored):
    assert contactpoint_id.normalise(typed) == stored


@pytest.mark.django_db
def test_it_accepts_an_id_typed_with_spaces_or_hyphens():
    value = issue_ids(1)[0]
    grouped = contactpoint_id.display(value)
    assert grouped == f"{value[:4]} {value[4:8]} {value[8:]}"
    assert contactpoint_id.normalise(grouped) == value
    assert contactpoint_id.normalise(grouped.replace(" ", "-")) == value
    assert contactpoint_id.normalise(f"  {value} ") == value
