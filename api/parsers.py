"""The API's JSON parser."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering input nested too deeply for Python's decoder with a 400.

    `json.load` raises RecursionError (not ValueError, which DRF catches) past about a
    thousand levels: a 2.4 KB body would otherwise be a 500 and a logged traceback.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
