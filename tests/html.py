"""Reading a page's HTML in tests."""

import re
from html.parser import HTMLParser
from urllib.parse import urlparse

from django.urls import Resolver404, resolve

SERVICE = "ContactPoint"
# A child's record is headed with the child's name; its title gives the ContactPoint ID in its
# place, as titles are kept in browser history (tests/test_record.py).
TITLE_NOT_NAMING_THE_CHILD = {"directory:child_record": "ContactPoint record "}


def input_tag(html: str, element_id: str) -> str:
    """The whole <input> tag with this id (the test fails if the page has none)."""
    tag = re.search(rf'<input[^>]*\bid="{element_id}"[^>]*>', html)
    assert tag, element_id
    return tag.group(0)


class _TitleAndHeading(HTMLParser):
    """The text of the document's <title> (not an SVG's, which come later) and its first <h1>."""

    def __init__(self) -> None:
        super().__init__()
        self.title: list[str] = []
        self.headings: list[list[str]] = []
        self._in: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self.title:
            self._in = self.title
        elif tag == "h1":
            self.headings.append([])
            self._in = self.headings[-1]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("title", "h1"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._in.append(data)


def title_problems(html: str, url: str) -> list[str]:
    """How the page's <title> breaks GOV.UK's pattern: "Error: " when, and only when, the page
    shows an error summary; then the <h1>'s text; then, after a dash, any context and the
    service's name (left out where the heading already names the service). Nothing when it
    keeps to it."""
    parser = _TitleAndHeading()
    parser.feed(html)
    if len(parser.headings) != 1:
        return [f"{len(parser.headings)} <h1> elements on {url}"]
    title, heading = (
        " ".join("".join(text).split()) for text in (parser.title, parser.headings[0])
    )
    try:
        view_name = resolve(urlparse(url).path).view_name
    except Resolver404:
        view_name = ""
    shows_errors = 'class="govuk-error-summary"' in html
    error = "Error: " if shows_errors else ""
    # The record's URL also answers with an error page, titled by its heading.
    instead = TITLE_NOT_NAMING_THE_CHILD.get(view_name)
    if instead and title.startswith(error + instead):
        return [f"the title {title!r} names the child on {url}"] if heading in title else []
    rest = title.removeprefix(error + heading)
    if rest == title:
        return [f"the title {title!r} does not start {error + heading!r} on {url}"]
    if rest and not rest.startswith(" – "):
        return [f"the title {title!r} says more than the heading {heading!r} on {url}"]
    if not title.endswith(f" – {SERVICE}") and SERVICE not in heading:
        return [f"the title {title!r} does not end with the service's name on {url}"]
    return []
