"""The site's MessageMiddleware: Django's, with the message storage made at its first use."""

from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.http import HttpResponse
from django.utils.functional import empty

from authdemo.middleware import MessageMiddleware


def request_with_session(rf, cookies: dict | None = None):
    request = rf.get("/")
    request.COOKIES.update(cookies or {})
    request.session = SessionStore()
    return request


def test_a_request_that_never_uses_messages_makes_no_storage_and_stores_nothing(rf):
    middleware = MessageMiddleware(lambda request: HttpResponse())
    request = request_with_session(rf)
    middleware.process_request(request)
    response = middleware.process_response(request, HttpResponse())
    assert request._messages._wrapped is empty
    assert "messages" not in response.cookies


def test_a_message_added_is_stored_in_the_cookie_as_django_stores_it(rf):
    middleware = MessageMiddleware(lambda request: HttpResponse())
    request = request_with_session(rf)
    middleware.process_request(request)
    messages.success(request, "Saved.")
    response = middleware.process_response(request, HttpResponse())
    assert isinstance(request._messages._wrapped, FallbackStorage)
    later = request_with_session(rf, {"messages": response.cookies["messages"].value})
    middleware.process_request(later)
    assert [str(message) for message in messages.get_messages(later)] == ["Saved."]
    read = middleware.process_response(later, HttpResponse())
    assert read.cookies["messages"].value == ""  # read once, then gone, as Django's


def test_a_pending_message_survives_requests_that_do_not_read_it(client, django_user_model):
    user = django_user_model.objects.create_user("messenger", password="a-long-passphrase-1")
    client.force_login(user)
    assert client.post("/accounts/sessions/revoke-others/").status_code == 302  # adds "Ended 0 other sessions."
    assert client.get("/healthz").status_code == 200  # a request that does not read messages leaves it
    assert client.get("/api/me/").status_code in (200, 401)
    page = client.get("/accounts/sessions/").content.decode()
    assert "Ended 0 other sessions" in page
    assert "Ended 0 other sessions" not in client.get("/accounts/sessions/").content.decode()  # shown once


def test_response_without_messages_storage_is_left_alone(rf):
    """Django's own test_response_without_messages: a request a higher middleware answered."""
    response = HttpResponse()
    assert MessageMiddleware(lambda request: response).process_response(rf.get("/"), response) is response
