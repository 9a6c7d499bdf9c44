"""One user table, the session registry, API login families and the audit log."""

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.exceptions import ValidationError
from django.db import models, router, transaction

from accounts import vocabulary
from accounts.session_engines.keys import STORED_KEY_LENGTH
from accounts.usernames import username_skeletons

LOOKALIKE_USERNAME = "A user with a username that looks the same already exists."


class LookalikeUserManager(UserManager):
    def lookalikes(self, username: str) -> models.QuerySet:
        """Users whose username looks like `username` (both skeleton columns are indexed)."""
        cased, folded = username_skeletons(username)
        return self.filter(models.Q(username_skeleton=cased) | models.Q(username_folded_skeleton=folded))


class User(AbstractUser):
    """A user; `tokens_valid_after` is the access-token cut-off set by revocation.

    The two skeleton columns follow `username` (see accounts.usernames): unique, so no two
    users look the same, even when two sign-ups race.
    """

    display_name = models.CharField(max_length=150, blank=True)
    tokens_valid_after = models.DateTimeField(null=True, blank=True, editable=False)
    username_skeleton = models.TextField(unique=True, editable=False)
    username_folded_skeleton = models.TextField(unique=True, editable=False)

    objects = LookalikeUserManager()

    def clean(self):
        """Refuse a username that looks like another user's (forms and the admin call this).

        A form that has already refused the username (taken, too long, invalid) leaves it
        unset on the instance: that field has its error, and there is nothing to compare.
        """
        super().clean()
        username = self.get_username()
        if not isinstance(username, str) or not username:
            return
        if type(self)._default_manager.lookalikes(username).exclude(pk=self.pk).exists():
            raise ValidationError({self.USERNAME_FIELD: ValidationError(LOOKALIKE_USERNAME, code="lookalike")})

    def get_short_name(self) -> str:
        return self.display_name or self.username

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._password_made_unusable = True

    def set_username_skeletons(self) -> None:
        """Derive the look-alike columns from the username (bulk_create skips save(): call this)."""
        self.username_skeleton, self.username_folded_skeleton = username_skeletons(self.get_username())

    def save(self, *args, **kwargs) -> None:
        # The skeletons are derived columns, kept in step on every write path (create_user,
        # forms, the admin), also when `update_fields` names the username.
        self.set_username_skeletons()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and self.USERNAME_FIELD in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_skeleton", "username_folded_skeleton"}
        # One transaction with the post_save receiver (accounts.signals): a new password or a
        # deactivation and the revocation it implies commit together or not at all, wherever
        # the save comes from (a page, the admin, a shell). Model.save() sends post_save after
        # its own block, so without this a failed revocation would leave the password changed.
        with transaction.atomic(using=kwargs.get("using") or router.db_for_write(type(self), instance=self)):
            super().save(*args, **kwargs)
        self._password_made_unusable = False  # as AbstractBaseUser.save() forgets `_password`

    @property
    def password_changed(self) -> bool:
        """True once a new password was set or the password made unusable, until saved.

        A hash upgrade on login (a changed PASSWORD_HASHERS or hasher parameters) is not
        a password change: Django's `check_password` setter clears `_password` before it
        saves the new hash of the same password, and so does not end any login.
        """
        return self._password is not None or getattr(self, "_password_made_unusable", False)


class ClientDetails(models.Model):
    """Where a request came from: the client address (see accounts.http.client_ip) and agent."""

    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    class Meta:
        abstract = True


class UserSession(ClientDetails):
    """A logged-in browser session, whatever engine stores it.

    `session_key` is the key as the store keeps it, its SHA-256 (accounts.session_engines.keys),
    never the cookie's key: revoke with the engine's `SessionStore.delete_stored()`. It is
    empty for signed cookies: the data lives in the cookie and the server holds nothing it
    could delete.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="web_sessions")
    session_key = models.CharField(max_length=STORED_KEY_LENGTH, null=True, blank=True, unique=True)
    engine = models.CharField(max_length=20, choices=[(e.key, e.label) for e in vocabulary.SESSION_ENGINES])
    created_at = models.DateTimeField()
    last_seen = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "session"
        indexes = [
            models.Index(fields=["user", "-last_seen"], name="usersession_user_seen"),
            models.Index(fields=["-last_seen"], name="usersession_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.get_engine_display()} since {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def revocable(self) -> bool:
        return vocabulary.session_engine(self.engine).revocable


class HashedSession(AbstractBaseSession):
    """A database session stored under the SHA-256 of its key (the cookie keeps the key).

    Django's `Session` keeps the key itself in a 40-character column: a dump of that table
    is a list of live cookies. Here a dump gives digests, which no store accepts as a key.
    The db and cached_db engines (accounts.session_engines) read and write this table.
    """

    # All three fields again, in Django's order: its manager builds rows positionally
    # (BaseSessionManager.save), and a field redefined alone would move to the end.
    session_key = models.CharField("session key hash", max_length=STORED_KEY_LENGTH, primary_key=True)
    session_data = models.TextField("session data")
    expire_date = models.DateTimeField("expire date", db_index=True)

    class Meta:
        verbose_name = "stored session"

    @classmethod
    def get_session_store_class(cls):
        from accounts.session_engines.db import SessionStore

        return SessionStore


class TokenFamily(ClientDetails):
    """An API login: every refresh token rotated from one login (RFC 9700, 4.14.2)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_families")
    current_jti = models.CharField(max_length=255, db_index=True)
    previous_jti = models.CharField(max_length=255, blank=True, help_text="The token the last refresh replaced.")
    rotated_at = models.DateTimeField(null=True, blank=True, help_text="When the live refresh token was issued.")
    transport = models.CharField(max_length=10, choices=[("bearer", "Bearer header"), ("cookie", "Cookie")])
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True, help_text="When the live refresh token expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name = "API login"
        indexes = [
            models.Index(fields=["user", "-last_used_at"], name="tokenfamily_user_used"),
            models.Index(fields=["-last_used_at"], name="tokenfamily_used"),
        ]

    def __str__(self) -> str:
        return f"{self.user} via {self.transport} since {self.created_at:%Y-%m-%d %H:%M}"


class AuditEvent(ClientDetails):
    """One authentication event, kept for the admin and the user's own page."""

    class Kind(models.TextChoices):
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOGOUT = "logout", "Logged out"
        TOKEN_OBTAINED = "token_obtained", "API token obtained"
        TOKEN_REFRESHED = "token_refreshed", "API token refreshed"
        TOKEN_BLACKLISTED = "token_blacklisted", "API token blacklisted"
        SESSION_REVOKED = "session_revoked", "Session revoked"
        FAMILY_REVOKED = "family_revoked", "API login revoked"
        EVERYTHING_REVOKED = "everything_revoked", "Logged out everywhere"
        REUSE_DETECTED = "reuse_detected", "Refresh token reuse detected"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        LOCKOUT = "lockout", "Locked out"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    username = models.CharField(max_length=150, blank=True, help_text="As given, also for unknown users.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["user", "-at"], name="auditevent_user_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username or '-'} at {self.at:%Y-%m-%d %H:%M:%S}"


class AccessCutoff(models.Model):
    """A user's recent access-token cut-off, kept apart from the user row.

    The revocation feed (api.wellknown) is served from this table: a deleted user's last
    cut-off outlives the row, so services that verify tokens without the database still
    learn that the user's access tokens are void. A row older than the feed's window
    (accounts.selectors.cutoff_window) voids nothing live; `manage.py prune_auth` deletes it.
    """

    user_id = models.BigIntegerField(primary_key=True)  # no foreign key: it must survive the user
    at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"user {self.user_id} cut off at {self.at:%Y-%m-%d %H:%M:%S}"
