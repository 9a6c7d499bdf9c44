"""Every page renders every name it uses: with debug on, Django's Jinja2 backend shows a
missing name as `{{ name }}` (jinja2.DebugUndefined), so a typo or a value a view forgot to
pass is visible on the page, and here."""

import json

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.bench.sample_results import sample_cluster_results, sample_results
from tests.factories import PASSWORD, UserFactory
from tests.support import client_logged_in_as

EVERYONES_PAGES = ["/", "/cookies/", "/spa/", "/compare/", "/accounts/password/reset/"]
ANONYMOUS_PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/sent/",
    "/accounts/password/reset/done/",
    "/accounts/password/reset/MQ/not-a-token/",
]
SESSION_PAGES = ["/accounts/profile/", "/accounts/sessions/", "/accounts/password/"]


@pytest.fixture(autouse=True)
def debug_on(settings):
    settings.DEBUG = True


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


def session_client(user):
    return client_logged_in_as(user)


def jwt_cookie_client(user):
    """A browser logged in through the single-page client's cookie login (no session)."""
    client = Client()
    token = client.get("/spa/").content.decode().split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post(
        "/api/cookie/login/",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200, response.content
    return client


def assert_drawn_whole(client, path, **extra):
    response = client.get(path, follow=True, **extra)
    page = response.content.decode()
    assert response.status_code == 200, path
    assert "{{" not in page, (path, page[page.index("{{") - 200 : page.index("{{") + 100])


@pytest.mark.parametrize("path", EVERYONES_PAGES + ANONYMOUS_PAGES)
def test_page_template_uses_only_defined_names_for_an_anonymous_visitor(client, db, path):
    assert_drawn_whole(client, path)


@pytest.mark.parametrize("path", EVERYONES_PAGES + SESSION_PAGES)
def test_page_template_uses_only_defined_names_for_a_session(user, path):
    assert_drawn_whole(session_client(user), path)


@pytest.mark.parametrize("path", EVERYONES_PAGES)
def test_page_template_uses_only_defined_names_for_a_jwt_cookie(user, path):
    assert_drawn_whole(jwt_cookie_client(user), path)


def test_password_reset_confirm_page_uses_only_defined_names(client, user):
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    assert_drawn_whole(client, f"/accounts/password/reset/{uid}/{default_token_generator.make_token(user)}/")


def test_login_page_with_form_errors_uses_only_defined_names(client, db):
    response = client.post("/accounts/login/", {"username": "nobody", "password": "wrong"})
    assert response.status_code == 200
    assert "{{" not in response.content.decode()


def test_compare_page_with_benchmark_results_uses_only_defined_names(user, settings, tmp_path):
    settings.BENCH_RESULTS = tmp_path / "latest.json"
    settings.CLUSTER_RESULTS = tmp_path / "cluster.json"
    settings.BENCH_RESULTS.write_text(json.dumps(sample_results()))
    settings.CLUSTER_RESULTS.write_text(json.dumps(sample_cluster_results()))
    assert_drawn_whole(session_client(user), "/compare/")


def test_compare_page_without_benchmark_results_uses_only_defined_names(client, db, settings, tmp_path):
    settings.BENCH_RESULTS = tmp_path / "none.json"
    settings.CLUSTER_RESULTS = tmp_path / "none-either.json"
    assert_drawn_whole(client, "/compare/")


def test_error_page_drawn_without_its_request_uses_only_defined_names():
    """As the 5xx handlers draw it (the session or user may be what failed)."""
    page = render_to_string("error.html", {"title": "Server error", "message": "Something went wrong."})
    assert "{{" not in page
    assert 'data-auth-via="anonymous"' in page
