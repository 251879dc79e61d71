from django.urls import path

from . import views

app_name = "collection"

urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/next/", views.next_case, name="next_case"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/timeline/", views.case_timeline_view, name="case_timeline"),
    path("cases/<int:pk>/attempts/", views.attempt_log, name="attempt_log"),
    path("cases/<int:pk>/promises/", views.promise_take, name="promise_take"),
    path("cases/<int:pk>/plans/", views.plan_propose, name="plan_propose"),
    path("cases/<int:pk>/escalation-requests/", views.escalation_request, name="escalation_request"),
    path("cases/<int:pk>/hold/", views.case_hold, name="hold"),
    path("cases/<int:pk>/resume/", views.case_resume, name="resume"),
    path("cases/<int:pk>/notes/", views.note_add, name="note_add"),
    path("cases/<int:pk>/consents/", views.consent_record, name="consent_record"),
    path("cases/<int:pk>/contacts/", views.contact_add, name="contact_add"),
    path("cases/<int:pk>/contacts/<int:contact_pk>/mark/", views.contact_mark, name="contact_mark"),
    path("cases/<int:pk>/lost-contact/", views.lost_contact, name="lost_contact"),
]
