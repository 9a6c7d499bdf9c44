"""The API's authentication classes: the JWT transports of our own, the session DRF's."""

from rest_framework.authentication import SessionAuthentication
from rest_framework.settings import api_settings


def test_session_authentication_is_drfs_own_class():
    assert SessionAuthentication in api_settings.DEFAULT_AUTHENTICATION_CLASSES


def test_me_names_drfs_session_authentication_as_the_session(client, alice, login):
    login(alice)
    response = client.get("/api/me/")
    assert response.json()["authenticated_by"] == "session"
    assert 'desc="session"' in response["Server-Timing"]
