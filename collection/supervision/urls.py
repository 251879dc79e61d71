from django.urls import path  # noqa: F401

app_name = "supervision"

urlpatterns = [
    # escalation requests and off-policy plans awaiting a decision
    # the team board and reassignment
]
