"""The documents of the legal track, included under /legal/ (before legal.urls, whose
`<pk>/<action>/` would take `<pk>/documents/`)."""

from django.urls import path

from . import document_views

app_name = "legal_documents"

urlpatterns = [
    path("<int:legal_case_pk>/documents/", document_views.documents_page, name="list"),
    path("<int:legal_case_pk>/documents/upload/", document_views.document_upload_view, name="upload"),
    path("<int:legal_case_pk>/documents/letter/", document_views.letter_render_view, name="letter"),
    path("documents/<int:pk>/download/", document_views.document_download, name="download"),
]
