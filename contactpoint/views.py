"""Pages that belong to no single app: the home page."""

from datetime import timedelta

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
