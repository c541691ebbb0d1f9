from django.conf import settings
from django.urls import include, path

from contactpoint import health, views
from directory import converters  # noqa: F401 - registers the ContactPoint ID URL converter

urlpatterns = [
    path("health/", health.health, name="health"),
    path("", views.home, name="home"),
    path("accessibility/", views.accessibility, name="accessibility"),
    path("cookies/", views.cookies, name="cookies"),
    path("privacy/", views.privacy, name="privacy"),
    path("accounts/", include("accounts.urls")),
    path("audit/", include("audit.urls")),
    path("", include("directory.urls")),
    path("", include("shielding.urls")),
]

if settings.LOADTEST_CEILING:
    urlpatterns.append(path("loadtest/ceiling/", views.loadtest_ceiling, name="loadtest_ceiling"))
