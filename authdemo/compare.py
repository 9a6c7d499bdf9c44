"""The /compare/ page: the usual claims about sessions and JWTs, beside this install's evidence.

The figures come from the latest `make bench` (settings.BENCH_RESULTS) and `make drill`
(settings.CLUSTER_RESULTS: the cluster behind nginx, and its failure drills); the rest is measured on
the visitor's own request. The live revocation demo logs in both ways and revokes both
through the services every other revocation uses.
"""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path

import jwt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user
from django.contrib.auth import login as auth_login
from django.contrib.sessions.backends.cache import KEY_PREFIX as SESSION_CACHE_PREFIX
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.urls import path
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView, View
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts import vocabulary
from accounts.forms import LoginForm
from accounts.selectors import CUTOFF_KEY_PREFIX
from accounts.services import revoke_everything
from accounts.vocabulary import session_engine
from api.services import issue_token_pair
from api.tokens import validate_access_token
from api.views import TimedAPIView
from authdemo import measured
from authdemo.chart import chart_svg, scheme_rows
from authdemo.evidence import about_this_install, cache_copies
from authdemo.measured import JWT_CUTOFF, JWT_DB_USER, JWT_STATELESS, PEER_KEYS, SESSION_DB, SESSION_REDIS
from copies import postgres_sessions
from crosssite import results as cross_site

# -- selectors ----------------------------------------------------------------------------


def load_results(path: Path | None = None) -> dict | None:
    """Return the latest benchmark results, or None when no run has written them yet."""
    try:
        return json.loads(Path(path or settings.BENCH_RESULTS).read_text())
    except (FileNotFoundError, ValueError):
        return None


CLUSTER_SCHEMES = (measured.SESSION_REDIS, measured.SESSION_DB, measured.JWT_STATELESS, measured.JWT_CUTOFF)


def cluster_figures(results: dict | None) -> dict | None:
    """The cluster's figures for one side of the table each: sessions, then JWT (None for a file
    not shaped as `make drill` writes it: the page is never an error page for it)."""
    if not results or not isinstance(results, dict):
        return None
    try:
        return cluster_sides(results)
    except (AttributeError, KeyError, TypeError):
        return None


def cluster_sides(results: dict) -> dict:
    figures = {"failover_seconds": results.get("failover_seconds"), "cpus": results.get("cpus")}
    for side in ("session", "jwt"):
        keys = [key for key in CLUSTER_SCHEMES if key.startswith("jwt") == (side == "jwt")]
        label = {scheme.key: scheme.label for scheme in measured.SCHEMES}
        figures[side] = {
            "rates": [(label[key], " / ".join(str(rate) for _, rate in sorted(by.items())))
                      for key, by in results.get("throughput", {}).items() if key in keys],
            "drills": [(drill["name"], [(label[key], drill["failed"][key], drill["requests"][key])
                                        for key in keys if key in drill["requests"]])
                       for drill in results.get("drills", [])],
        }  # fmt: skip
    return figures


def per_machine(results: dict | None) -> dict[str, tuple[int, int]]:
    """req/s of each scheme with one and with two app processes on the benchmark's machine: from
    its one-and-two-workers part, or from the two app processes of a run written before it had one."""
    rows = ((results or {}).get("workers") or {}).get("schemes") or {}
    found = {key: (row["one"], row["two"]) for key, row in rows.items()}
    for key, row in ((results or {}).get("scalability") or {}).items():
        if isinstance(row, dict) and "one_process_rps" in row:
            found.setdefault(key, (row["one_process_rps"], row["two_processes_rps"]))
    return found


def sessions_copied() -> bool:
    """Whether this process serves session reads from its own copy, as the configured
    components decide: the session cache (copies.redis_cache) or engine (copies.postgres_sessions)."""
    if settings.SESSION_BACKEND == vocabulary.REDIS:
        return cache_copies(caches[settings.SESSION_CACHE_ALIAS], SESSION_CACHE_PREFIX)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return (
        settings.SESSION_BACKEND == vocabulary.DB
        and issubclass(store, postgres_sessions.SessionStore)
        and (postgres_sessions.serves_copies())
    )


def describe_visitor_session(request: HttpRequest) -> dict:
    """The visitor's session as the server stores it; the auth hash shown by prefix only."""
    cookie = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    data = {key: (f"{value[:8]}…" if key == "_auth_user_hash" else value) for key, value in request.session.items()}
    return {
        "engine": settings.SESSION_BACKEND,
        "stored_as": f"{session_engine(settings.SESSION_BACKEND).stored_as} ({connection.display_name} here"
        + ("; each process keeps a copy of the sessions it reads)" if sessions_copied() else ")"),
        "cookie_bytes": len(cookie),
        "sent_cookie": bool(cookie),
        "data": data,
        "accepted": bool(data.get("_auth_user_id")),
        "expires_at": request.session.get_expiry_date() if data else None,
    }


def describe_visitor_token(request: HttpRequest) -> dict | None:
    """The visitor's own access token from its cookie: decoded claims, size, and whether it is accepted now."""
    raw = request.COOKIES.get(settings.JWT_ACCESS_COOKIE)
    if not raw:
        return None
    try:
        claims, refused = validate_access_token(raw).payload, ""
    except InvalidToken as exc:
        refused = exc.detail.get("code", "token_not_valid") if isinstance(exc.detail, dict) else "token_not_valid"
        try:
            claims = jwt.decode(raw, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            claims = {}
    return {"bytes": len(raw), "claims": claims, "accepted": not refused, "refused": refused}


def findings(results: dict | None) -> list[str]:
    """Sentences where this install's measurements contradict or qualify the usual table."""
    rows = {row["key"]: row for row in scheme_rows(results)}
    said = []
    if JWT_DB_USER in rows:
        said.append(
            f"SimpleJWT's default JWTAuthentication loads the user from the database on every request: "
            f"{rows[JWT_DB_USER]['sql_per_request']:.0f} SQL query per request measured, versus "
            f"{rows[JWT_STATELESS]['sql_per_request']:.0f} for the stateless variant."
        )
    if JWT_CUTOFF in rows:
        calls = rows[JWT_CUTOFF]["redis_per_request"]
        said.append(
            f"A JWT can be revoked: the cut-off check makes {calls:.2f} Redis calls per request"
            + (" (each process keeps a copy that Redis invalidates)" if calls < 0.5 else "")
            + f" and costs {rows[JWT_CUTOFF]['ratio']:.2f}x /healthz, versus {rows[JWT_STATELESS]['ratio']:.2f}x "
            "without it."
        )
    if SESSION_DB in rows:
        stored = rows[SESSION_DB]
        copied = stored["sql_per_request"] < 0.5
        said.append(
            f"A session in the database made {stored['sql_per_request']:.2f} SQL queries per request and cost "
            f"{stored['ratio']:.2f}x /healthz"
            + (": each process keeps a copy that PostgreSQL's notifications invalidate." if copied else ".")
        )
    if rows.get(SESSION_REDIS, {}).get("sql_per_request", 0) >= 1:
        said.append(
            f"A session kept in Redis still costs {rows[SESSION_REDIS]['sql_per_request']:.0f} SQL query per "
            "request: after reading the session, Django's authentication loads the user row from the database."
        )
    if SESSION_REDIS in rows and JWT_STATELESS in rows:
        faster = rows[SESSION_REDIS]["ratio"] <= rows[JWT_STATELESS]["ratio"]
        said.append(
            f"A session on Redis measured {rows[SESSION_REDIS]['ratio']:.2f}x /healthz against "
            f"{rows[JWT_STATELESS]['ratio']:.2f}x for a stateless JWT: "
            + ("the lookup did not make it slower." if faster else "the lookup is the difference.")
        )
    return said


# -- views --------------------------------------------------------------------------------


class CompareView(TemplateView):
    """The table: each usual claim, and what this install measured or shows."""

    template_name = "authdemo/compare.html"

    def get_context_data(self, **kwargs):
        results, cluster = load_results(), load_results(settings.CLUSTER_RESULTS)
        database_sessions_copied = settings.SESSION_BACKEND == vocabulary.DB and sessions_copied()
        redis_copied = cache_copies(caches["default"], CUTOFF_KEY_PREFIX)  # as the cut-off decides
        return {
            **super().get_context_data(**kwargs),
            "results": results,
            "here": about_this_install(results=results, cluster=cluster),
            "rows": scheme_rows(results),
            "full_rows": scheme_rows(results, "full"),
            "peer_rows": scheme_rows(results, order=PEER_KEYS),
            "per_machine": per_machine(results),
            "local_tier": {
                "on": redis_copied or database_sessions_copied,
                "database": database_sessions_copied,
                "bound": settings.LOCAL_TIER_BOUND,
                "max_age": settings.LOCAL_TIER_MAX_AGE,
            },
            "chart": chart_svg(results) if results else "",
            "findings": findings(results),
            "cluster": cluster_figures(cluster),
            "visitor_session": describe_visitor_session(self.request),
            "visitor_token": describe_visitor_token(self.request),
            "session_engine": settings.SESSION_BACKEND,
            "login_form": LoginForm(self.request),
            "cross_site": cross_site.cross_site_table(cross_site.load_results(cross_site.results_path())),
        }


@extend_schema(exclude=True)  # a measuring probe of the compare page, not part of the API
class SessionProbeApi(TimedAPIView):
    """Answer as /api/dashboard/ does, authenticated by the session cookie alone.

    The benchmark measures sessions here, so that session and token requests do the
    same work after authentication; the revocation demo polls it.
    """

    authentication_classes = [SessionAuthentication]

    def get(self, request):
        user = request.user
        return Response({"message": f"Access granted to {user.username}", "data": {"user_id": user.pk}})


def _answer(request: HttpRequest, body: dict, status: int = 200):
    """JSON for the page's script; for a plain form post, a message and back to the demo."""
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(body, status=status)
    (messages.success if status == 200 else messages.error)(request, body["message"])
    return redirect("/compare/#revocation")


@method_decorator(never_cache, name="dispatch")  # it sets a token cookie (RFC 6749 5.1)
class DemoLoginView(View):
    """Log the visitor in both ways: a session (auth_login) and tokens (issue_token_pair).

    The access token goes into its HttpOnly cookie, as the cookie transport does; the
    refresh token stays on the server's records, to be blacklisted by the revocation.
    """

    http_method_names = ["post"]

    def post(self, request):
        form = LoginForm(request, data=request.POST)
        if not form.is_valid():
            return _answer(request, {"message": "Wrong username or password; nothing changed."}, status=400)
        user = form.get_user()
        auth_login(request, user)
        pair = issue_token_pair(user=user, request=request, transport="cookie")
        message = f"Logged in as {user.username} with a session and a token."
        response = _answer(request, {"message": message, "csrf": get_token(request)})
        response.set_cookie(
            settings.JWT_ACCESS_COOKIE,
            pair.access,
            expires=pair.access_expires_at,
            httponly=True,
            secure=settings.SECURE_COOKIES,
            samesite="Strict",
        )
        return response


class DemoRevokeView(View):
    """Revoke everything of the session's user; the browser keeps its now-void credentials.

    The revocation is not tied to this request (no `request=`), so this browser's session
    is ended in its store like any other rather than logged out here: its cookie stays,
    and the page can show the server refusing it. The user is read with `get_user`, so
    this request does not touch the session it is about to end.
    """

    http_method_names = ["post"]

    def post(self, request):
        user = get_user(request)
        if not user.is_authenticated:
            return _answer(request, {"message": "Log in with the first button first."}, status=403)
        revoke_everything(user=user, reason="compare demo", actor=user)
        return _answer(request, {"message": "Revoked: every session, refresh token and access token of yours."})


urlpatterns = [
    path("", CompareView.as_view(), name="compare"),
    path("probe/session/", SessionProbeApi.as_view(), name="probe_session"),
    path("demo/login/", DemoLoginView.as_view(), name="demo_login"),
    path("demo/revoke/", DemoRevokeView.as_view(), name="demo_revoke"),
]
