"""The pages' Jinja2 environment keeps what Django's templates did for a value."""

from datetime import UTC, datetime

from django.template import engines
from django.test.utils import override_script_prefix
from django.urls import reverse, set_script_prefix
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.safestring import mark_safe


def render(source: str, **context) -> str:
    return engines["jinja2"].from_string(source).render(context)


def test_a_missing_value_renders_as_nothing_through_the_filters():
    assert render("[{{ results.rows.first|floatformat(1) }}|{{ nothing|date('c') }}|{{ gone|ago }}]") == "[||]"


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
    assert render("[{{ none|strftime('%Y') }}{{ missing|strftime('%Y') }}]", none=None) == "[]"


def test_a_page_links_under_the_script_prefix_it_is_served_at(client, db):
    """As gunicorn sets it from SCRIPT_NAME (Django's test client does not)."""
    with override_script_prefix("/mounted/"):
        mounted = client.get("/").content.decode()
    assert 'href="/mounted/accounts/sessions/"' in mounted
    assert 'href="/accounts/sessions/"' in client.get("/").content.decode()
