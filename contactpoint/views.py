"""Pages that belong to no single app: the home page."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import Role


@login_required
def home(request: HttpRequest) -> HttpResponse:
    roles = [role for role in Role if role in request.user.roles]  # type: ignore[union-attr]
    return render(request, "home.html", {"roles": roles})
