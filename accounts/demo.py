"""The demo users `manage.py seed_demo` creates, and the logins the login page may show."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User

DEMO_USERS = (
    # username, display name, password, staff and superuser
    ("alice", "Alice", "alice-demo-pass", False),
    ("bob", "Bob", "bob-demo-pass", False),
    ("admin", "Admin", "admin-demo-pass", True),
)


def list_demo_logins() -> list[tuple[str, str]]:
    """Return (username, password) of the non-admin demo users to show on the login page.

    Only with debug on (seed_demo refuses to run without it unless forced), and only
    the users that exist here: elsewhere the passwords would be false, or an invitation.
    """
    if not settings.DEBUG:
        return []
    wanted = {username: password for username, _, password, admin in DEMO_USERS if not admin}
    present = set(User.objects.filter(username__in=wanted).values_list("username", flat=True))
    return [(username, password) for username, password in wanted.items() if username in present]
