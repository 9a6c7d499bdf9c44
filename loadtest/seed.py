"""Create the virtual users: `python -m loadtest.seed N` with the site's environment.

The password comes from LOADTEST_PASSWORD. It is hashed once with the production hasher
(Argon2, deliberately slow) and the hash is shared by every user, so creating thousands
of users takes a second; each login still pays a full Argon2 check, as in production.
"""

from __future__ import annotations

import os
import sys


def username(index: int) -> str:
    """`load0007`: distinct, and no name is a prefix of another's (the leak check relies on it)."""
    return f"load{index:04d}"


def create_users(count: int, password: str) -> int:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    user_model = get_user_model()
    hashed = make_password(password)
    users = [user_model(username=username(i), display_name=username(i), password=hashed) for i in range(count)]
    for user in users:
        user.set_username_skeletons()  # bulk_create does not call save()
    return len(user_model.objects.bulk_create(users, batch_size=500))


def main() -> None:
    import django

    django.setup()
    created = create_users(int(sys.argv[1]), os.environ["LOADTEST_PASSWORD"])
    print(f"created {created} users")


if __name__ == "__main__":
    main()
