"""HTML views: Django's auth views, styled, plus the sessions page and its revoke buttons."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.views.generic import CreateView, TemplateView, View

from accounts import selectors, services
from accounts.authentication import current_registry_id
from accounts.demo import list_demo_logins
from accounts.forms import PasswordChangeForm, PasswordResetForm, RememberLoginForm, RevokeForm, SignupForm
from accounts.http import OUTAGES

NOT_CHANGED = (
    "Your password was not changed: a store this site needs did not answer. Please try again in a few seconds."
)
NOT_REVOKED = (
    "Log out everywhere did not complete: a store this site needs did not answer. Please try again in a few seconds."
)


class AllOrNothingMixin:
    """For a form that changes a credential: if the change and the revocation it implies could
    not commit together (accounts.services.revoke_everything rolled both back), say so on the
    form, with 503 and Retry-After, instead of a generic error page."""

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except OUTAGES:
            form.add_error(None, NOT_CHANGED)
            response = self.form_invalid(form)
            response.status_code = 503
            response["Retry-After"] = "5"
            return response


class LoginView(auth_views.LoginView):
    """Django's login; "Remember me" unticked makes the session end with the browser."""

    template_name = "accounts/login.html"
    form_class = RememberLoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "demo_logins": list_demo_logins()}

    def get_redirect_url(self) -> str:
        """Django's safe `next`, unless it is this login page: a logged-in visitor sent here
        with `?next=/accounts/login/` would otherwise meet Django's redirect-loop ValueError
        (a 500) from any link. Without it, the visitor goes to LOGIN_REDIRECT_URL."""
        url = super().get_redirect_url()
        return "" if urlsplit(url).path == self.request.path else url

    def form_valid(self, form):
        # Before login(): the session registry records the expiry this sets (0: a cookie
        # without Max-Age; the server keeps the data for SESSION_COOKIE_AGE at most).
        self.request.session.set_expiry(None if form.cleaned_data["remember"] else 0)
        return super().form_valid(form)


class LogoutView(auth_views.LogoutView):
    """Log out; POST only (Django answers GET with 405)."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.success(request, "You are logged out. The server has deleted your session.")
        return response


class SignupView(CreateView):
    template_name = "accounts/signup.html"
    form_class = SignupForm
    success_url = reverse_lazy("profile")

    def form_valid(self, form):
        response = super().form_valid(form)
        auth_login(self.request, self.object, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(self.request, "Welcome! Your account is ready and you are logged in.")
        return response


class PasswordChangeView(AllOrNothingMixin, auth_views.PasswordChangeView):
    """Change the password; this session stays, every other login of the user ends."""

    template_name = "accounts/password_change.html"
    form_class = PasswordChangeForm  # the old password is checked as a login is (lockout, limits)
    success_url = reverse_lazy("profile")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        response = super().form_valid(form)
        services.password_changed(request=self.request, user=form.user)
        messages.success(self.request, "Password changed. Every other session and API login has been ended.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Mail a reset link; the same answer whether or not the address has an account.

    Limited per client address and per e-mail address (accounts.limits).
    """

    template_name = "accounts/password_reset.html"
    form_class = PasswordResetForm  # links start with SITE_URL, not the request's Host
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")


class PasswordResetConfirmView(AllOrNothingMixin, auth_views.PasswordResetConfirmView):
    """Set a new password from a mailed link, which then stops working (Django's token
    covers the password hash). Setting it ends every login of the user, as any password
    change does (accounts.signals); the reset is audited."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.password_reset(request=self.request, user=form.user)
        return response


class ProfileView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/profile.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "stored": selectors.describe_session(request=self.request)}


class SessionsView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/sessions.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return {
            **super().get_context_data(**kwargs),
            "sessions": selectors.list_active_sessions(user=user),
            "current_id": current_registry_id(request=self.request),
            "families": selectors.list_active_families(user=user),
            "events": selectors.list_recent_events(user=user),
            "engine": settings.SESSION_BACKEND,
        }


class _RevokeView(LoginRequiredMixin, View):
    """POST only: a GET on a revoke URL is a 405, never a state change."""

    http_method_names = ["post"]

    def post(self, request):
        form = RevokeForm(request.POST)
        if not form.is_valid():
            messages.error(request, "That request named no session; nothing was changed.")
        else:
            self.revoke(request, form.cleaned_data["id"])
        return redirect("sessions")


class RevokeSessionView(_RevokeView):
    def revoke(self, request, registry_id):
        session = selectors.find_own_session(user=request.user, registry_id=registry_id)
        if session is None:
            messages.error(request, "That session does not exist or is not yours; nothing was changed.")
        elif str(session.pk) == current_registry_id(request=request):
            messages.error(request, "That is this session: use Log out to end it.")
        elif services.revoke_session(session=session, actor=request.user, request=request):
            messages.success(request, "Session ended. Its next request will arrive logged out.")
        else:
            messages.error(
                request, "A signed-cookie session cannot be ended by the server: it holds nothing to delete."
            )


class RevokeFamilyView(_RevokeView):
    def revoke(self, request, family_id):
        family = selectors.find_own_family(user=request.user, family_id=family_id)
        if family is None:
            messages.error(request, "That API login does not exist or is not yours; nothing was changed.")
        else:
            services.revoke_family(family=family, reason="user", actor=request.user, request=request)
            messages.success(request, "API login ended: its refresh token is blacklisted.")


class RevokeOtherSessionsView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request):
        ended = services.revoke_other_sessions(request=request)
        messages.success(request, f"Ended {ended} other session{'s' if ended != 1 else ''}.")
        return redirect("sessions")


class LogoutEverywhereView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request):
        try:
            services.revoke_everything(
                user=request.user, reason="user", actor=request.user, request=request, keep_current_session=True
            )
        except OUTAGES:  # rolled back whole: say so rather than pretend (README "All or nothing")
            messages.error(request, NOT_REVOKED)
            return redirect("sessions")
        with transaction.atomic():  # the logout's writes (lockout log, registry, audit, session): one commit
            auth_logout(request)
        messages.success(request, "Logged out everywhere: every session, refresh token and access token is void.")
        return redirect("login")
