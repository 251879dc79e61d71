"""The desk's front door, `/`: mounted at the root by config.urls, apart from the login pages under accounts/."""

from django.urls import path

from . import views

urlpatterns = [path("", views.home, name="home")]
