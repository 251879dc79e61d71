from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from . import views

admin.site.site_header = _("Collection desk administration")
admin.site.site_title = _("Collection desk")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("accounts.landing_urls")),
    path("", include("loans.urls")),
    path("", include("collection.urls")),
    path("", include("collection.supervision.urls")),
    path("", include("collection.dashboard.urls")),
    # the documents before legal.urls, whose legal/<pk>/<action>/ would take legal/<pk>/documents/
    path("legal/", include("legal.document_urls")),
    path("", include("legal.urls")),
]
