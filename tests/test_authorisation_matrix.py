"""Every URL in the URLconf, requested by every kind of user, answers as this matrix says.

A URL pattern without a row here fails the test: a new page cannot be added without deciding
who may see it. Columns: anonymous; signed in with a password but no second factor; each
role's persona (Priya, Owen, Sam, Dana, Lee, Ada, Nina); Xavier, a practitioner of another LA;
and Xena, an LA administrator of another LA.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.roles import Role
from directory.services import children_merge
from shielding.models import ContactRequest, ShieldOverride
from tests.personas import (
    ada,
    authenticator,
    dana,
    feed_review,
    lee,
    make_child,
    make_user,
    nina,
    owen,
    priya,
    sam,
    shield,
    sign_in,
    southshire,
    xavier,
)
from tests.test_shielding import record, shielded_child, shielded_for_sharing_elsewhere

PERSONAS = [
    "anonymous",
    "unverified",
    "priya",
    "owen",
    "sam",
    "dana",
    "lee",
    "ada",
    "nina",
    "xavier",
    "xena",
]
LOGIN, TWO_FACTOR, OK, DENIED, GONE, NOT_ALLOWED = "login", "two_factor", 200, 403, 404, 405


@dataclass(frozen=True)
class Row:
    method: str
    # What the URL names: "", "priya" (a Northshire user), "child", "shielded_child", "override",
    # "contact_request" (each about a Northshire child), "shared_shield" (a Southshire record
    # shielded for sharing a Northshire child's home), "organisation" or "token".
    args: str
    expect: dict[str, object]


def everyone(result: object, **exceptions: object) -> dict[str, object]:
    """Anonymous users go to sign-in, unverified ones to the second factor, the rest ``result``."""
    expect: dict[str, object] = {name: result for name in PERSONAS}
    expect.update(anonymous=LOGIN, unverified=TWO_FACTOR)
    expect.update(exceptions)
    return expect


def only(allowed: Mapping[str, object]) -> dict[str, object]:
    return everyone(DENIED, **allowed)


# Search and records: practitioners (of any LA), shielding officers and data managers.
CHILD_FACING = {name: OK for name in ("priya", "owen", "sam", "dana", "xavier")}
INVOLVED = {name: OK for name in ("priya", "owen", "xavier")}

MATRIX: dict[str, Row] = {
    "home": Row("GET", "", everyone(OK)),
    "health": Row("GET", "", {name: OK for name in PERSONAS}),
    # The footer's pages show no data; someone who cannot sign in may need them most.
    "accessibility": Row("GET", "", {name: OK for name in PERSONAS}),
    "cookies": Row("GET", "", {name: OK for name in PERSONAS}),
    "privacy": Row("GET", "", {name: OK for name in PERSONAS}),
    "accounts:login": Row("GET", "", {name: OK for name in PERSONAS}),
    # Sign-out ends at the sign-in page, whether or not there was a session to end.
    "accounts:logout": Row("POST", "", {name: LOGIN for name in PERSONAS}),
    "accounts:two_factor": Row("GET", "", everyone(302, unverified=OK)),
    "accounts:enrol": Row("GET", "", everyone(TWO_FACTOR)),  # they have a device already
    "accounts:setup": Row("GET", "token", {name: GONE for name in PERSONAS}),
    # Her own account: anyone signed in with both factors, never with the password alone.
    "accounts:password_change": Row("GET", "", everyone(OK)),
    "accounts:backup_codes_renew": Row("GET", "", everyone(OK)),
    "accounts:user_list": Row("GET", "", only({"lee": OK, "nina": OK, "xena": OK})),
    "accounts:user_create": Row("GET", "", only({"lee": OK, "nina": OK, "xena": OK})),
    "accounts:user_detail": Row("GET", "priya", only({"lee": OK, "nina": OK, "xena": GONE})),
    # Lee could not give Priya her role: he is sent back to her page, told he cannot change her.
    "accounts:user_edit": Row("GET", "priya", only({"lee": 302, "nina": OK, "xena": GONE})),
    "accounts:user_action": Row("POST", "priya", only({"lee": 302, "nina": 302, "xena": GONE})),
    "accounts:organisation_list": Row("GET", "", only({"nina": OK})),
    "accounts:organisation_create": Row("GET", "", only({"nina": OK})),
    "accounts:organisation_edit": Row("GET", "organisation", only({"nina": OK})),
    "audit:events": Row("GET", "", only({"ada": OK})),
    "audit:export": Row("GET", "", only({"ada": OK})),
    "audit:child_history": Row("GET", "child", only({"ada": OK})),
    "audit:user_activity": Row("GET", "priya", only({"ada": OK})),
    "audit:anomalies": Row("GET", "", only({"ada": OK})),
    "audit:anomaly_export": Row("GET", "", only({"ada": OK})),
    "audit:charts": Row("GET", "", only({"ada": OK})),
    "directory:search": Row("GET", "", only(CHILD_FACING)),
    "directory:child_record": Row("GET", "child", only(CHILD_FACING)),
    "directory:my_involvement": Row("GET", "child", only(INVOLVED)),
    "directory:end_my_involvement": Row("POST", "child", only({k: 302 for k in INVOLVED})),
    "shielding:dashboard": Row("GET", "", only({"sam": OK})),
    "shielding:override_queue": Row("GET", "", only({"sam": OK})),
    "shielding:override_sign_off": Row("POST", "override", only({"sam": 302})),
    "shielding:contact_queue": Row("GET", "", only({"sam": OK})),
    "shielding:contact_request": Row("GET", "contact_request", only({"sam": OK})),
    "shielding:shield": Row("GET", "child", only({"sam": OK})),
    # Sam sees the Northshire child it protects in full; Southshire's record is not his LA's.
    "shielding:shield_protecting": Row("GET", "shared_shield", only({"sam": OK})),
    "shielding:override": Row("GET", "shielded_child", only({"owen": OK})),
    "shielding:request_contact": Row("GET", "shielded_child", only(CHILD_FACING)),
    "directory:feeds": Row("GET", "", only({"dana": OK})),
    "directory:review_queue": Row("GET", "", only({"dana": OK})),
    "directory:review": Row("GET", "review", only({"dana": OK})),
    "directory:merge": Row("GET", "", only({"dana": OK})),
    "directory:merges": Row("GET", "", only({"dana": OK})),
    # A GET or an unconfirmed POST asks first (contactpoint.confirmation).
    "directory:unmerge": Row("GET", "merge", only({"dana": OK})),
    "directory:separate": Row("GET", "", only({"dana": OK})),
}


def url_names(resolver: URLResolver | None = None, prefix: str = "") -> set[str]:
    names = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= url_names(pattern, namespace)
        elif isinstance(pattern, URLPattern):
            names.add(f"{prefix}{pattern.name}")
    return names


def test_every_url_has_a_row_in_the_matrix():
    assert url_names() == set(MATRIX), "add a row for each new URL, deciding who may see it"


def _url(name: str, row: Row, target) -> str:
    if row.args == "priya":
        kwargs = {"pk": target.pk}
        if name == "accounts:user_action":
            kwargs["action"] = "unlock"
        return reverse(name, kwargs=kwargs)
    if row.args == "organisation":
        return reverse(name, args=[target.organisation_id])
    if row.args == "child":
        return reverse(name, args=[make_child().contactpoint_id])
    if row.args == "shielded_child":
        child = make_child()
        shield(child)
        return reverse(name, args=[child.contactpoint_id])
    if row.args == "shared_shield":
        return reverse(name, args=[shielded_for_sharing_elsewhere().contactpoint_id])
    if row.args in {"override", "contact_request"}:
        child = make_child()
        model = ShieldOverride if row.args == "override" else ContactRequest
        extra = (
            {"visit_token_hash": "x" * 64}
            if row.args == "override"
            else {"service": "S", "reply_to": "R"}
        )
        requester = {"practitioner" if row.args == "override" else "requester": target}
        item = model.objects.create(child=child, reason="Reason", **requester, **extra)
        return reverse(name, args=[item.pk])
    if row.args == "review":
        return reverse(name, args=[feed_review(make_child()).pk])
    if row.args == "merge":
        merged = children_merge(kept=make_child(), absorbed=make_child(given_name="Amy"), by=None)
        return reverse(name, args=[merged.pk])
    if row.args == "token":
        return reverse(name, args=["not-a-real-token"])
    return reverse(name)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_the_matrix(client, name):
    row = MATRIX[name]
    makers = {
        "priya": priya,
        "owen": owen,
        "sam": sam,
        "dana": dana,
        "lee": lee,
        "ada": ada,
        "nina": nina,
        "xavier": xavier,
    }
    people = {persona: make() for persona, make in makers.items()}
    people["xena"] = make_user("xena", Role.LA_ADMINISTRATOR, organisation=southshire())
    people["unverified"] = make_user(
        "una", Role.PRACTITIONER, Role.LA_ADMINISTRATOR, Role.NATIONAL_ADMINISTRATOR
    )
    authenticator(people["unverified"])
    url = _url(name, row, people["priya"])
    results = {}
    for persona in PERSONAS:
        browser = client.__class__()
        if persona != "anonymous":
            sign_in(browser, people[persona], verified=persona != "unverified")
        response = browser.generic(row.method, url)
        # A form sent without a session is not sent back to after sign-in: no "?next=".
        if response.status_code == 302 and response["Location"].split("?")[0] == reverse(
            "accounts:login"
        ):
            results[persona] = LOGIN
        elif response.status_code == 302 and response["Location"].split("?")[0] == reverse(
            "accounts:two_factor"
        ):
            results[persona] = TWO_FACTOR
        else:
            results[persona] = response.status_code
    assert results == row.expect


# Masking rules -----------------------------------------------------------------------------------

MASKING = {
    "priya": True, "owen": True, "dana": True, "xavier": True, "sam": False, "sol": True,
}  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "masked"), MASKING.items())
def test_the_masking_rules_for_each_role(client, persona, masked):
    """The matrix's second dimension: who sees a shielded record masked (the leak tests in
    tests/test_shielding.py walk every page for the masked ones)."""
    child = shielded_child()
    makers = {"priya": priya, "owen": owen, "dana": dana, "xavier": xavier, "sam": sam}
    user = (
        makers[persona]()
        if persona in makers
        else make_user("sol", Role.SHIELDING_OFFICER, organisation=southshire())
    )
    sign_in(client, user)
    html = client.get(record(child)).content.decode()
    assert ("Zqxv Secret Lane" not in html) is masked
    assert "Amelia" in html and "This record is shielded" in html
