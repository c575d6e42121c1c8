from django.urls import path

from sandbox import views

app_name = "sandbox"
urlpatterns = [
    path("exercises/<slug:slug>/run", views.run, name="run"),
    path("submissions/<int:pk>/", views.submission_status, name="submission"),
]
