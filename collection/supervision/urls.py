from django.urls import path  # noqa: F401

from . import team_views

app_name = "supervision"

urlpatterns = [
    # escalation requests and off-policy plans awaiting a decision
    # the team board and reassignment
    path("supervisor/team/", team_views.team_board_view, name="team"),
    path("supervisor/team/cases/", team_views.team_cases_view, name="team_cases"),
    path("supervisor/team/cases/reassign/", team_views.team_reassign_view, name="team_reassign"),
]
