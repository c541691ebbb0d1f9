"""Reading a page's HTML in tests."""

import re


def input_tag(html: str, element_id: str) -> str:
    """The whole <input> tag with this id (the test fails if the page has none)."""
    tag = re.search(rf'<input[^>]*\bid="{element_id}"[^>]*>', html)
    assert tag, element_id
    return tag.group(0)
