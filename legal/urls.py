from django.urls import path

from . import views

app_name = "legal"

urlpatterns = [
    path("legal/", views.queue_view, name="queue"),
    path("legal/portfolio/", views.portfolio_view, name="portfolio"),
    path("legal/<int:pk>/", views.case_view, name="case"),
    path("legal/<int:pk>/<slug:action>/", views.act_view, name="act"),
]
