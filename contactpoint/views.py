"""Pages that belong to no single app: the home page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import Role


def loadtest_ceiling(request: HttpRequest) -> HttpResponse:
    """The least a Django view can do, for the load test's ceiling. Only routed when
    LOADTEST_CEILING is on, and never in production."""
    return HttpResponse("ok", content_type="text/plain")


def home(request: HttpRequest) -> HttpResponse:
    # AccessControlMiddleware lets only signed-in, verified users this far.
    roles = [role for role in Role if role in getattr(request.user, "roles", [])]
    return render(request, "home.html", {"roles": roles})
