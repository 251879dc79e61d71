"""Where the legal track keeps its documents: a folder of their own (LEGAL_DOCUMENTS_ROOT, by default
var/legal-documents), never under the static or media roots that the web server or whitenoise
serve. A document has no URL: it leaves the desk only through the download view, which checks who
asks and writes an audit entry (legal.document_views)."""

import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

__all__ = ["LegalDocumentStorage", "legal_documents_root"]


def legal_documents_root() -> Path:
    """The documents' folder, refused when the web server would serve it (under STATIC_ROOT,
    MEDIA_ROOT or a folder of STATICFILES_DIRS)."""
    root = Path(getattr(settings, "LEGAL_DOCUMENTS_ROOT", None) or Path(settings.VAR_DIR) / "legal-documents")
    root = root.resolve()
    served = [settings.STATIC_ROOT, settings.MEDIA_ROOT, *getattr(settings, "STATICFILES_DIRS", [])]
    for folder in served:
        if not folder:
            continue
        folder = Path(folder if isinstance(folder, str | os.PathLike) else folder[1]).resolve()
        if root == folder or folder in root.parents:
            raise ImproperlyConfigured(
                f"LEGAL_DOCUMENTS_ROOT ({root}) is inside {folder}, which is served to anyone: keep it apart."
            )
    return root


@deconstructible(path="legal.storage.LegalDocumentStorage")
class LegalDocumentStorage(FileSystemStorage):
    """The file system under legal_documents_root(), read from the settings at each use (so that a
    test or a deployment may move it), readable by the desk's own user only, with no URL."""

    def __init__(self):
        super().__init__(file_permissions_mode=0o600, directory_permissions_mode=0o700)

    @property
    def base_location(self):
        return legal_documents_root()

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None

    def url(self, name):
        raise ValueError("A legal document has no URL: it is served by the download view only.")
