from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from course import views as course_views

urlpatterns = [
    path("", include("course.urls")),
    path("", include("sandbox.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", course_views.signup, name="signup"),
    path("instructor/", include("course.dashboard.urls")),
    path("admin/", admin.site.urls),
]
