"""Read what a page shows, as a visitor would: the errors that templates/includes/form.html draws.

The site's pages are Jinja2 templates, which Django's test client does not instrument:
`response.context` holds no page context (at most the form widgets' own Django-template
contexts), so tests read the HTML.
"""

import re
from html import unescape

_FIELD_ERROR = re.compile(r'<small class="field-error" id="id_(\w+)_error">(.*?)</small>', re.S)
_FORM_ERROR = re.compile(r'<p class="form-error" role="alert">(.*?)</p>', re.S)


def form_errors(response) -> dict[str, list[str]]:
    """{field name: [message, ...]} as the page shows them; the form's own errors under "__all__"."""
    page = response.content.decode()
    errors: dict[str, list[str]] = {}
    for message in _FORM_ERROR.findall(page):
        errors.setdefault("__all__", []).append(unescape(message))
    for field, message in _FIELD_ERROR.findall(page):
        errors.setdefault(field, []).append(unescape(message))
    return errors
