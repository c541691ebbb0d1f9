from django.urls import include, path

from contactpoint import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("audit/", include("audit.urls")),
    path("", include("directory.urls")),
    path("", include("shielding.urls")),
]
