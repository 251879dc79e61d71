from django.urls import path

from . import views

urlpatterns = [
    path("portfolio/", views.portfolio_overview, name="portfolio"),
]
