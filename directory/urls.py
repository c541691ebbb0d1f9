from django.urls import path

from directory import feed_views, views

app_name = "directory"

urlpatterns = [
    path("feeds/", feed_views.feeds, name="feeds"),
    path("feeds/reviews/", feed_views.review_queue, name="review_queue"),
    path("feeds/reviews/<int:pk>/", feed_views.review, name="review"),
    path("feeds/merge/", feed_views.merge, name="merge"),
    path("feeds/merges/", feed_views.merges, name="merges"),
    path("feeds/merges/<int:pk>/unmerge/", feed_views.unmerge, name="unmerge"),
    path("feeds/separate/", feed_views.separate, name="separate"),
    path("search/", views.search, name="search"),
    path("children/<cpid:contactpoint_id>/", views.child_record, name="child_record"),
    path(
        "children/<cpid:contactpoint_id>/my-involvement/",
        views.my_involvement,
        name="my_involvement",
    ),
    path(
        "children/<cpid:contactpoint_id>/my-involvement/end/",
        views.end_my_involvement,
        name="end_my_involvement",
    ),
]
