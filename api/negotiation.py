"""Content negotiation for a JSON-only API."""

from rest_framework.negotiation import BaseContentNegotiation


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Answer with the view's first renderer (JSON) and parse with its first parser.

    The API speaks JSON only, so parsing the Accept header on every request buys
    nothing (DRF's default negotiation is a visible share of a token-authenticated call).
    """

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
