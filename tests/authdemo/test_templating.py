"""The pages' Jinja2 environment is Django's documented one: url() is reverse(), static() is
Django's static(), asked anew each time, and a value reads as in Django's templates."""

import itertools
import re
from datetime import UTC, datetime

import pytest
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.template import engines
from django.test import RequestFactory
from django.test.utils import override_script_prefix
from django.urls import reverse, set_script_prefix, set_urlconf
from django.utils import timezone, translation
from django.utils.functional import lazy
from django.utils.safestring import mark_safe

from tests.factories import UserFactory
from tests.support import client_logged_in_as

OTHER_URLS = "tests.authdemo.other_urls"


def render(source: str, **context) -> str:
    return engines["jinja2"].from_string(source).render(context)


class SigningStorage(StaticFilesStorage):
    """A storage whose URLs change at every call, as signed, expiring URLs do."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.signatures = itertools.count(1)

    def url(self, name):
        return f"/static/{name}?signature={next(self.signatures)}"


def test_a_missing_name_shows_as_itself_in_debug_and_as_nothing_without(settings):
    settings.DEBUG = True  # Django's backend then passes jinja2.DebugUndefined
    assert render("[{{ nothing }}]") == "[{{ nothing }}]"
    settings.DEBUG = False
    assert render("[{{ nothing }}]") == "[]"


@pytest.fixture
def translation_backend_forgotten():
    """django.utils.translation picks trans_real or trans_null (by USE_I18N) at its first use
    and keeps the choice; no setting_changed receiver of Django's forgets it (its own test
    settings keep USE_I18N on). Forget it again once the settings are restored."""
    yield
    translation._trans.__dict__.clear()


@pytest.fixture
def i18n_on(translation_backend_forgotten, settings):
    """USE_I18N on, English and French, and a URLconf under i18n_patterns."""
    settings.USE_I18N = True
    settings.LANGUAGE_CODE = "en"
    settings.LANGUAGES = [("en", "English"), ("fr", "French")]
    settings.ROOT_URLCONF = "tests.authdemo.i18n_urls"
    translation._trans.__dict__.clear()


@pytest.mark.usefixtures("i18n_on")
def test_url_follows_the_active_language_under_i18n_patterns():
    with translation.override("en"):
        assert render("{{ url('sessions') }}") == "/en/sessions/"
    with translation.override("fr"):
        assert render("{{ url('sessions') }}") == "/fr/sessions/" == reverse("sessions")


def test_url_takes_reverses_arguments():
    source = "{{ url('password_reset_confirm', kwargs={'uidb64': 'MQ', 'token': 'abc-123'}) }}"
    assert render(source) == "/accounts/password/reset/MQ/abc-123/"


def test_static_asks_the_storage_at_every_call(settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": f"{__name__}.SigningStorage"}}
    assert render("{{ static('css/site.css') }} {{ static('css/site.css') }}") == (
        "/static/css/site.css?signature=1 /static/css/site.css?signature=2"
    )


def test_a_lazy_safe_string_stays_markup_and_a_lazy_plain_one_is_escaped():
    safe = lazy(lambda: mark_safe("<ul><li>rule</li></ul>"), str)()  # noqa: S308  (a fixed test string)
    plain = lazy(lambda: "<b>", str)()
    assert render("{{ safe }} {{ plain }}", safe=safe, plain=plain) == "<ul><li>rule</li></ul> &lt;b&gt;"


def test_signup_shows_the_password_rules_as_a_list(client, db):
    page = client.get("/accounts/signup/").content.decode()
    assert "<ul><li>" in page
    assert "&lt;ul&gt;" not in page


def test_url_follows_the_script_prefix_it_is_called_under():
    try:
        set_script_prefix("/mounted/")
        assert render("{{ url('sessions') }}") == "/mounted/accounts/sessions/" == reverse("sessions")
    finally:
        set_script_prefix("/")
    assert render("{{ url('sessions') }}") == "/accounts/sessions/"


def test_strftime_shows_a_moment_in_the_current_time_zone():
    moment = datetime(2026, 12, 2, 10, 30, 5, tzinfo=UTC)
    assert render("{{ m|strftime('%Y-%m-%d %H:%M:%S %Z') }}", m=moment) == "2026-12-02 10:30:05 UTC"
    with timezone.override("Europe/Berlin"):
        assert render("{{ m|strftime('%H:%M %Z') }}", m=moment) == "11:30 CET"
    assert render("[{{ none|strftime('%Y') }}]", none=None) == "[]"


def test_a_page_links_under_the_script_prefix_it_is_served_at(client, db):
    """As gunicorn sets it from SCRIPT_NAME (Django's test client does not)."""
    with override_script_prefix("/mounted/"):
        mounted = client.get("/").content.decode()
    assert 'href="/mounted/accounts/sessions/"' in mounted
    assert 'href="/accounts/sessions/"' in client.get("/").content.decode()


# A page drawn for a request gets url() from the page_urls context processor, which remembers
# what a bare name reverses to: each test below draws the same name under two of the three
# things that key it, and back, so a memo keyed on less would hand one the other's URL.


def render_page(source: str, request=None) -> str:
    """Draw `source` as a view draws a page: for a request, with the engine's context processors."""
    return engines["jinja2"].from_string(source).render({}, request=request or RequestFactory().get("/"))


@pytest.mark.usefixtures("i18n_on")
def test_page_url_follows_the_active_language_under_i18n_patterns():
    for language in ("en", "fr", "en", "fr"):
        with translation.override(language):
            assert render_page("{{ url('sessions') }}") == f"/{language}/sessions/" == reverse("sessions")


def test_page_url_follows_the_script_prefix():
    for prefix in ("/mounted/", "/", "/other/", "/mounted/"):
        with override_script_prefix(prefix):
            assert render_page("{{ url('sessions') }}") == f"{prefix}accounts/sessions/" == reverse("sessions")


def test_page_url_follows_the_urlconf_of_the_request():
    """As the second site's middleware sets request.urlconf, which Django's handler makes current."""
    try:
        for urlconf, expected in [(OTHER_URLS, "/elsewhere/sessions/"), (None, "/accounts/sessions/")] * 2:
            set_urlconf(urlconf)
            assert render_page("{{ url('sessions') }}") == expected == reverse("sessions")
    finally:
        set_urlconf(None)


def test_page_url_follows_a_changed_root_urlconf(settings):
    """Keyed on the URLconf's resolver, which Django builds anew when it clears its URL caches,
    not on get_urlconf(), which is None under any ROOT_URLCONF."""
    assert render_page("{{ url('sessions') }}") == "/accounts/sessions/"
    settings.ROOT_URLCONF = OTHER_URLS
    assert render_page("{{ url('sessions') }}") == "/elsewhere/sessions/"


def test_page_url_reverses_arguments_each_time():
    source = "{{ url('password_reset_confirm', kwargs={'uidb64': uid, 'token': 'abc-123'}) }}"
    for uid in ("MQ", "Mg"):
        page = engines["jinja2"].from_string(source).render({"uid": uid}, request=RequestFactory().get("/"))
        assert page == f"/accounts/password/reset/{uid}/abc-123/"


def test_a_page_masks_one_csrf_token_for_its_meta_tag_and_every_form(db):
    """One mask per page, as Django's own template language gives; a new one per response."""
    browser, tokens = client_logged_in_as(UserFactory()), []
    for _ in range(2):
        page = browser.get("/accounts/sessions/").content.decode()
        meta = re.findall(r'<meta name="csrf-token" content="([^"]+)">', page)
        fields = re.findall(r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">', page)
        assert len(meta) == 1 and len(fields) >= 3
        assert set(fields) == set(meta)
        tokens.append(meta[0])
    assert tokens[0] != tokens[1]


def test_the_pages_csrf_token_is_accepted(db):
    browser = client_logged_in_as(UserFactory())
    browser.handler.enforce_csrf_checks = True  # from here on, as a browser's requests are checked
    page = browser.get("/accounts/profile/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    assert browser.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert browser.get("/accounts/profile/").status_code == 302  # logged out: sent to the login page


def test_a_page_without_the_csrf_token_asks_for_none():
    """Still lazy: no token masked, so no CSRF cookie set, for a page that shows neither."""
    request = RequestFactory().get("/")
    assert render_page("{{ url('home') }}", request) == "/"
    assert "CSRF_COOKIE_NEEDS_UPDATE" not in request.META
    assert render_page("{{ csrf_token }}", request)
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"]
