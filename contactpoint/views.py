"""Pages that belong to no single app: the home page, and the accessibility statement, cookies
and privacy pages that every GOV.UK service links from its footer."""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.permissions import signed_in_user
from accounts.roles import Role


def loadtest_ceiling(request: HttpRequest) -> HttpResponse:
    """The least a Django view can do, for the load test's ceiling. Only routed when
    LOADTEST_CEILING is on, and never in production."""
    return HttpResponse("ok", content_type="text/plain")


# How long before a check runs out her home page warns her: time to renew and record it.
ACCESS_ENDING_WARNING = timedelta(days=30)


def home(request: HttpRequest) -> HttpResponse:
    """Who she is signed in as, what others see of her, and when her access ends."""
    user = signed_in_user(request)  # AccessControlMiddleware lets only verified users this far
    roles = [role for role in Role if role in user.roles]
    runs_out = user.access_runs_out()
    soon = runs_out is not None and runs_out[0] - timezone.localdate() <= ACCESS_ENDING_WARNING
    return render(request, "home.html", {"roles": roles, "runs_out": runs_out if soon else None})


def accessibility(request: HttpRequest) -> HttpResponse:
    """The accessibility statement the Public Sector Bodies Accessibility Regulations 2018 ask
    for; readable before signing in, as someone who cannot sign in needs it most."""
    return render(request, "information/accessibility.html")


def cookies(request: HttpRequest) -> HttpResponse:
    """The cookies the service sets, each named as the browser shows it: all of them essential,
    so there is nothing to accept or reject."""
    return render(
        request,
        "information/cookies.html",
        {
            "session_cookie": settings.SESSION_COOKIE_NAME,
            "csrf_cookie": settings.CSRF_COOKIE_NAME,
            "idle_minutes": int(settings.SESSION_IDLE_TIMEOUT.total_seconds() // 60),
            "absolute_hours": int(settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds() // 3600),
        },
    )


def privacy(request: HttpRequest) -> HttpResponse:
    """What the service records about the people who use it, and who can see it."""
    return render(
        request,
        "information/privacy.html",
        {
            "audit_retention_years": settings.AUDIT_RETENTION_YEARS,
            "dormant_after_days": settings.DORMANT_AFTER_DAYS,
        },
    )
