from django.utils.deprecation import MiddlewareMixin


class DeskLanguageMiddleware(MiddlewareMixin):
    """The desk speaks Simplified Chinese unless the user picked another language (the language
    cookie set by the switch in the header). The browser's Accept-Language is not consulted: a
    collector on an English-language browser still gets the desk's language by default."""

    def process_request(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
