"""Pages that belong to no single app: the home page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import Role


def home(request: HttpRequest) -> HttpResponse:
    # AccessControlMiddleware lets only signed-in, verified users this far.
    roles = [role for role in Role if role in getattr(request.user, "roles", [])]
    return render(request, "home.html", {"roles": roles})
