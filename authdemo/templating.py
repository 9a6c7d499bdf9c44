"""The Jinja2 environment of the site's own pages (templates/); settings.TEMPLATES names it.

The site's pages are Jinja2 templates: Jinja2 compiles a template to Python code once,
where Django's template language walks a tree of nodes on every render. The admin, DRF's
browsable API and the API docs keep their own Django templates (the second engine); form
widgets render through Django's form renderer, as always.

The environment is Django's documented one ("Jinja2" in Django's template backends docs):
`url` is Django's `reverse` and `static` Django's `static`, called anew each time, so a link
follows the active language, the URLconf and the script prefix, and a static URL is whatever
the storage answers now. Django's backend puts `csrf_input` and `csrf_token` in the context,
and chooses `undefined` (DebugUndefined with debug on, which shows a missing name as
`{{ name }}`): the pages test `is defined` where a value may be absent. The filters are
Django's own `date`, `timeuntil` and `floatformat`, so that a value reads the same as in the
admin, and `strftime` for the pages' own timestamps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import jinja2
from django.template import defaultfilters
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.timesince import timesince

from accounts.http import describe_user_agent


def date(value, arg: str | None = None) -> str:
    """Django's `date` filter, in the current time zone as Django's templates show it.

    Format "c" is `datetime.isoformat()` (as Django's own "c" is), without Django's
    format parser: every `<time datetime=...>` uses it.
    """
    value = timezone.template_localtime(value)
    if arg == "c" and isinstance(value, datetime):
        return value.isoformat()
    return defaultfilters.date(value, arg)


def strftime(value, fmt: str) -> str:
    """`{{ moment|strftime("%Y-%m-%d %H:%M") }}`: Python's formatting, in the current time zone.

    For the pages' own timestamps: a tenth of what Django's `date` format parser costs (about
    17 µs a call here), which the admin's and a translation's formats need and these do not.
    """
    return "" if value is None else timezone.template_localtime(value).strftime(fmt)


def client_name(raw: str | None) -> str:
    """ "Firefox on Ubuntu" for a User-Agent header."""
    return describe_user_agent(raw or "")


def ago(moment) -> str:
    """ "just now" for under a minute, else "5 minutes ago"."""
    if moment is None:
        return "never"
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment)} ago"


def _resolve_lazy(value):
    """Output a lazy string (a form's help text, a lazily translated message) as what it is.

    Django's templates turn it into its str before escaping, so a lazy SafeString (Django's
    password help text, a <ul>) stays markup; markupsafe would escape the lazy object itself.
    """
    return str(value) if isinstance(value, Promise) else value


def environment(**options) -> jinja2.Environment:
    """Django's documented Jinja2 environment, with the site's filters.

    `options` come from Django's backend, `undefined` chosen by settings.DEBUG. Output is
    always escaped (Django's backend defaults to it; here no OPTIONS can turn it off).
    """
    options.pop("autoescape", None)
    env = jinja2.Environment(autoescape=True, finalize=_resolve_lazy, **options)
    env.globals.update({"static": static, "url": reverse})
    env.filters.update(
        {
            "date": date,
            "strftime": strftime,
            "timeuntil": defaultfilters.timeuntil_filter,
            "floatformat": defaultfilters.floatformat,
            "client_name": client_name,
            "ago": ago,
        }
    )
    return env
