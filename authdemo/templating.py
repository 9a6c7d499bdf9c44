"""The Jinja2 environment of the site's own pages (templates/); settings.TEMPLATES names it.

The site's pages are Jinja2 templates: Jinja2 compiles a template to Python code once,
where Django's template language walks a tree of nodes on every render. The admin, DRF's
browsable API and the API docs keep their own Django templates (the second engine); form
widgets render through Django's form renderer, as always.

The environment is Django's documented one ("Jinja2" in Django's template backends docs):
`url` is Django's `reverse` and `static` Django's `static`, so a link follows the active
language, the URLconf and the script prefix, and a static URL is whatever the storage answers
now (asked anew at every call). Django's backend puts `csrf_input` and `csrf_token` in the
context, and chooses `undefined` (DebugUndefined with debug on, which shows a missing name as
`{{ name }}`): the pages test `is defined` where a value may be absent. The filters are
Django's own `date`, `timeuntil` and `floatformat`, so that a value reads the same as in the
admin, and `strftime` for the pages' own timestamps.

Two context processors of this engine make a page drawn for a request cheaper without changing
what it says: `page_urls` (a link named without arguments is reversed once per URLconf,
language and script prefix, the three things Django's own reverse reads) and `csrf` (one
masked CSRF token per page, as Django's template language has, where the backend's two lazy
values mask it anew at every use).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import jinja2
from django.middleware.csrf import get_token
from django.template import defaultfilters
from django.templatetags.static import static
from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.functional import Promise, SimpleLazyObject
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import get_language

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


@functools.lru_cache(maxsize=64)
def _reversed_under(resolver, language: str | None, prefix: str) -> dict[str, str]:  # noqa: ARG001  (all three are the key)
    """The URLs reversed so far by name alone under one URLconf, language and script prefix.

    Keyed on the URLconf's resolver itself, not on its module's name: Django builds a new
    resolver whenever it clears its URL caches (a changed ROOT_URLCONF, a reloaded URLconf),
    so these go when Django's own reverse caches go. The language is part of the key because
    Django keeps its reverse data per language (i18n_patterns, translated paths), the prefix
    because reverse() puts the script prefix in front of every URL.
    """
    return {}


class PageURLs:
    """`url()` for one page: `reverse()`, remembering what a bare name reverses to.

    The navigation reverses about ten names on every page, at 5-20 µs each here (most of it
    reading the thread's URLconf and script prefix, twice per call). A name without
    arguments means the same URL for as long as the URLconf, the language and the script
    prefix stay: those three are read once per page, at the first link, and the URL comes
    from `_reversed_under` them. Arguments (a token, an id) go to reverse() every time.
    """

    __slots__ = ("_known",)

    def __init__(self):
        self._known: dict[str, str] | None = None

    def __call__(self, viewname, *args, **kwargs) -> str:
        if args or kwargs or not isinstance(viewname, str):
            return reverse(viewname, *args, **kwargs)
        if self._known is None:
            self._known = _reversed_under(get_resolver(get_urlconf()), get_language(), get_script_prefix())
        url = self._known.get(viewname)
        if url is None:
            url = self._known[viewname] = reverse(viewname)
        return url


def page_urls(request) -> dict:  # noqa: ARG001  (a context processor's signature)
    """Context processor of the Jinja2 engine: `url` for a page drawn for a request.

    A page drawn without one (an error page of a failed request, a mail) keeps the
    environment's `url`, plain `reverse`.
    """
    return {"url": PageURLs()}


def csrf(request) -> dict:
    """Context processor of the Jinja2 engine: `csrf_token` and `csrf_input` of one mask per page.

    Django's Jinja2 backend puts in two lazy values that call `get_token()` at every use, and
    each call masks the secret anew (32 random characters, one system call each: 80-110 µs here): a page with the
    <meta> tag and the log-out form masked it twice, the sessions page once per form. Django's
    own template language masks once per page (its `csrf` context processor); the mask is
    there so that the token differs between responses (BREACH), which one per page keeps.
    Still lazy: a page that shows neither asks for no token and sets no CSRF cookie.
    """
    token = SimpleLazyObject(functools.partial(get_token, request))
    field = SimpleLazyObject(lambda: format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token))
    return {"csrf_token": token, "csrf_input": field}


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
