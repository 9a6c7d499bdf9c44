"""How this request was authenticated, and how long it took: read by Server-Timing."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from accounts.vocabulary import Via


@dataclass(frozen=True)
class AuthRecord:
    scheme: str  # a vocabulary.Via name
    seconds: float

    @property
    def authenticated(self) -> bool:
        return self.scheme != Via.ANONYMOUS


ANONYMOUS = AuthRecord(Via.ANONYMOUS, 0.0)


def record_auth(request: HttpRequest, *, scheme: str, seconds: float) -> None:
    """Note the scheme that authenticated `request` (the last one to run wins)."""
    request.auth_record = AuthRecord(scheme, seconds)


def get_auth_record(request: HttpRequest) -> AuthRecord:
    return getattr(request, "auth_record", ANONYMOUS)
