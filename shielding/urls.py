from django.urls import path

from shielding import views

app_name = "shielding"

urlpatterns = [
    path("shielding/", views.dashboard, name="dashboard"),
    path("shielding/overrides/", views.override_queue, name="override_queue"),
    path(
        "shielding/overrides/<int:pk>/sign-off/", views.override_sign_off, name="override_sign_off"
    ),
    path("shielding/contact-requests/", views.contact_queue, name="contact_queue"),
    path(
        "shielding/contact-requests/<int:pk>/", views.contact_request_detail, name="contact_request"
    ),
    path("children/<cpid:contactpoint_id>/shield/", views.shield, name="shield"),
    path(
        "children/<cpid:contactpoint_id>/shield/protecting/",
        views.shield_protecting,
        name="shield_protecting",
    ),
    path("children/<cpid:contactpoint_id>/override/", views.override, name="override"),
    path(
        "children/<cpid:contactpoint_id>/contact-request/",
        views.contact_request,
        name="request_contact",
    ),
]
