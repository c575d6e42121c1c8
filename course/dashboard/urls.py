from django.urls import path

from course.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("fleet/", views.fleet_health, name="fleet"),
    path("submissions/", views.submissions, name="submissions"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission"),
    path("submissions/export.csv", views.export_csv, name="export"),
    path("regrade/", views.regrade, name="regrade"),
    path("learners/<int:learner_id>/exercises/<slug:slug>/variant/", views.variant, name="variant"),
]
