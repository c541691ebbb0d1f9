from django.urls import path

from directory import views

app_name = "directory"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("children/<str:contactpoint_id>/", views.child_record, name="child_record"),
    path(
        "children/<str:contactpoint_id>/my-involvement/",
        views.my_involvement,
        name="my_involvement",
    ),
    path(
        "children/<str:contactpoint_id>/my-involvement/end/",
        views.end_my_involvement,
        name="end_my_involvement",
    ),
]
