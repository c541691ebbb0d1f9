"""GOV.UK's "check before a destructive action": a page that asks, and only its answer acts."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# The value the question page's warning button posts in its ``confirm`` field.
CONFIRMED = "yes"


def confirmed(request: HttpRequest) -> bool:
    """Whether this request is the answer to the question page. A GET, or a POST without the
    answer (the first press of a button, a form from an older page), only asks."""
    return request.method == "POST" and request.POST.get("confirm") == CONFIRMED


def confirmation_page(
    request: HttpRequest,
    *,
    question: str,
    consequences: list[str],
    button: str,
    cancel_url: str,
    caption: str = "",
    title: str = "",
) -> HttpResponse:
    """The question, what the action will do, a warning button that posts the answer back to
    this URL, and a way out that changes nothing. ``title``, where the question names a child:
    browser history keeps titles, and a title names a record by its ID only."""
    return render(
        request,
        "confirm.html",
        {
            "question": question,
            "consequences": consequences,
            "button": button,
            "cancel_url": cancel_url,
            "caption": caption,
            "title": title or question,
            "confirmed": CONFIRMED,
        },
    )
