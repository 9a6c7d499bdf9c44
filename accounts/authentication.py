"""The session side of authentication: what a login keeps in the session, and its user.

Like `django.contrib.auth`, which keeps SESSION_KEY beside `login()` and `get_user()`, the
keys that accounts.services.record_session writes live beside the code that reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, get_user
from django.contrib.auth.models import AnonymousUser
from django.db import DEFAULT_DB_ALIAS
from django.http import HttpRequest

from accounts import vocabulary
from accounts.models import User

REGISTRY_KEY = "_registry_id"  # the UserSession id, kept in the session itself
SEEN_KEY = "_registry_seen"  # epoch seconds of the last registry touch
CREATED_KEY = "_registry_created"  # epoch seconds of the login, as the registry row has it
SNAPSHOT_KEY = "_user_snapshot"  # the user's display fields, written at login
# is_active is True for every live session: deactivation ends them all (accounts.signals).
SNAPSHOT_FIELDS = ("username", "display_name", "is_active")


def get_session_user(request: HttpRequest):
    """Return the session's user; without a database query where the server can end sessions.

    Django's `get_user` loads the user row on every request to re-check the password
    hash, so that a password change logs other sessions out. Here every session that
    the server can end *is* ended, through its engine, when the password is set, the user
    is deactivated or deleted (accounts.signals), so the row adds nothing: the user is
    built from the login's snapshot. Other fields are deferred: `is_staff`, permissions
    and the rest are read fresh from the database when a page asks for them. Signed
    cookies cannot be ended by the server, so they keep Django's full check.
    """
    revocable = vocabulary.session_engine(settings.SESSION_BACKEND).revocable
    snapshot = request.session.get(SNAPSHOT_KEY) if revocable else None
    if snapshot is None:
        return get_user(request)
    user_id = request.session.get(SESSION_KEY)
    if user_id is None or request.session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    known = {field: snapshot[field] for field in SNAPSHOT_FIELDS if field in snapshot}
    known["id"] = User._meta.pk.to_python(user_id)
    # from_db() takes the loaded fields in the model's field order; the rest are deferred.
    loaded = [f.attname for f in User._meta.concrete_fields if f.attname in known]
    return User.from_db(DEFAULT_DB_ALIAS, loaded, [known[name] for name in loaded])


def current_registry_id(*, request: HttpRequest) -> str | None:
    return request.session.get(REGISTRY_KEY)


def session_created_at(*, request: HttpRequest) -> datetime | None:
    """When this session's login happened, from the session itself (None: not recorded)."""
    created = request.session.get(CREATED_KEY)
    return None if created is None else datetime.fromtimestamp(created, tz=UTC)
