from django.urls import path

from . import review_views, team_views

app_name = "supervision"

urlpatterns = [
    # escalation requests and off-policy plans awaiting a decision
    path("supervisor/escalations/", review_views.escalations_view, name="escalations"),
    path("supervisor/escalations/decide/", review_views.escalation_decide_view, name="escalation_decide"),
    path("supervisor/escalations/bulk/", review_views.escalations_bulk_view, name="escalations_bulk"),
    path("supervisor/plans/", review_views.plans_view, name="plans"),
    path("supervisor/plans/decide/", review_views.plan_decide_view, name="plan_decide"),
    # the team board and reassignment
    path("supervisor/team/", team_views.team_board_view, name="team"),
    path("supervisor/team/cases/", team_views.team_cases_view, name="team_cases"),
    path("supervisor/team/cases/reassign/", team_views.team_reassign_view, name="team_reassign"),
]
