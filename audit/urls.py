from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="events"),
    path("export.csv", views.export_csv, name="export"),
    path("children/<cpid:contactpoint_id>/", views.child_history, name="child_history"),
    path("users/<int:pk>/", views.user_activity, name="user_activity"),
    path("anomalies/", views.anomaly_report, name="anomalies"),
    path("anomalies.csv", views.anomaly_export, name="anomaly_export"),
    path("charts/", views.activity_charts, name="charts"),
]
