"""The desk's URLs with the documents' included under /legal/, as the lead wires them
(config/urls.py), for the documents' tests until then."""

from django.urls import include, path

from config.urls import urlpatterns as desk_urlpatterns

urlpatterns = [path("legal/", include("legal.document_urls")), *desk_urlpatterns]
