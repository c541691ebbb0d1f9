"""The walk of every page: each URL of the authorisation matrix, opened by someone it lets in.

tests/test_hardening.py fills each page's forms with hostile values along this walk, and
tests/test_govuk_page_titles.py checks each page's title against its heading.
"""

import re
from datetime import date
from urllib.parse import urlparse

from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from directory.models import Involvement, Source
from tests.personas import (
    ada,
    authenticator,
    dana,
    lee,
    make_child,
    make_user,
    nina,
    owen,
    priya,
    sam,
    sign_in,
)
from tests.test_authorisation_matrix import MATRIX, Row, _url

FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
ATTRIBUTE = re.compile(r'(\w[\w-]*)="([^"]*)"')
FIELD = re.compile(r"<(?:input|select|textarea)\b([^>]*)>")


def forms_on(html: str, path: str) -> list[tuple[str, dict[str, str]]]:
    """(method, {field name: input type}) of each form on the page that submits to ``path``."""
    found = []
    for attributes, body in FORM.findall(html):
        form = dict(ATTRIBUTE.findall(attributes))
        if form.get("action", path) != path:
            continue
        fields = {}
        for field in FIELD.findall(body):
            named = dict(ATTRIBUTE.findall(field))
            if named.get("name") and named["name"] != "csrfmiddlewaretoken":
                fields[named["name"]] = named.get("type", "text")
        found.append((form.get("method", "get").upper(), fields))
    return found


def user_for(name: str, row: Row) -> str:
    """Someone the matrix lets use the URL: anonymous or half-signed-in where that is whom it
    is for, otherwise the first persona allowed, preferring one shown the page."""
    if name == "accounts:enrol":
        return "unenrolled"  # signed in with a password, and no authenticator yet
    if row.expect.get("anonymous") == 200 or name == "accounts:setup":
        return "anonymous"
    if row.expect.get("unverified") == 200:
        return "unverified"
    allowed = [
        persona
        for persona, result in row.expect.items()
        if result in (200, 302) and persona not in ("anonymous", "unverified", "xena")
    ]
    # One shown the page rather than sent away (Lee is sent back from Priya's edit page).
    return next((persona for persona in allowed if row.expect[persona] == 200), allowed[0])


def targets() -> list[tuple[str, str]]:
    """Each URL name, with what it names; the shield page twice, as it has two forms (shield
    a child; review a shield)."""
    names = sorted(name for name in MATRIX if name not in {"health", "accounts:logout"})
    return [(name, MATRIX[name].args) for name in names] + [
        ("shielding:shield", "shielded_child"),
        # The "Are you sure?" questions, which the matrix's own targets never reach: an unlock
        # is never asked first, and a record she does not work with has nothing to end.
        ("accounts:user_action", "suspend"),
        ("directory:end_my_involvement", "involved_child"),
    ]


def open_as_allowed_user(client: Client, name: str, names: str) -> tuple[str, Row]:
    """Signs ``client`` in as someone allowed to use the URL named ``name`` (about ``names``):
    the URL, and its row of the matrix."""
    from dataclasses import replace

    from accounts.services import setup_link_create

    row = replace(MATRIX[name], args=names)
    persona = user_for(name, row)
    makers = {"owen": owen, "sam": sam, "dana": dana, "lee": lee, "ada": ada, "nina": nina}
    target = priya()
    if persona in ("unverified", "unenrolled"):
        user = make_user("una", Role.PRACTITIONER)
        if persona == "unverified":
            authenticator(user)
        sign_in(client, user, verified=False)
    elif persona != "anonymous":
        sign_in(client, makers[persona]() if persona != "priya" else target)
    if name == "accounts:user_action" and names == "suspend":
        return reverse(name, kwargs={"pk": target.pk, "action": names}), row
    if names == "involved_child":
        child = make_child()
        Involvement.objects.create(
            child=child,
            practitioner=target,
            started_on=date(2024, 9, 1),
            source=Source.PRACTITIONER,
        )
        return reverse(name, args=[child.contactpoint_id]), row
    if name == "accounts:setup":
        newcomer = make_user("newcomer", Role.PRACTITIONER)
        return urlparse(setup_link_create(user=newcomer, by=None)).path, row
    return _url(name, row, target), row
