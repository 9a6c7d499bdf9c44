"""Test settings: the real configuration, with a fast password hasher. Nothing else."""

from authdemo.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
