"""Django admin: users, sessions, API logins, tokens and the audit log; revoke from here.

Every revocation goes through accounts.services, so an admin ends a login exactly as
the user would, and the audit log records which admin did it. Registry rows cannot be
deleted here: deleting a row would hide a session without ending it.
"""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_address

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.paginator import Paginator
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from rest_framework_simplejwt.token_blacklist.admin import OutstandingTokenAdmin as StockOutstandingTokenAdmin
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import services
from accounts.http import describe_user_agent
from accounts.models import AuditEvent, TokenFamily, User, UserSession
from accounts.selectors import list_active_sessions


class CappedCountPaginator(Paginator):
    """Count at most CAP rows: an exact COUNT(*) over millions of rows costs more than the page.

    The admin then shows "10000" as the total and pages up to there; search or filter to
    narrow further.
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP].count()


class UserOrAddressSearchMixin:
    """Search by exact username or IP address, through indexes.

    A substring search (Django's default) or a case-insensitive one cannot use an index
    and scans every row: seconds on a million sessions.
    """

    search_fields = ("user__username", "ip")  # for the search box; the lookups are below
    search_help_text = "Exact username or IP address."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(ip=str(ip_address(term))), False
        except ValueError:
            return queryset.filter(user__username=term), False


class ReadOnlyAdminMixin:
    """Rows written by services only: no add, no edit, no delete from the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        """Revoking is ending: it needs the model's delete permission (superusers have it)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.delete_{opts.model_name}")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Display and revocation", {"fields": ("display_name", "tokens_valid_after", "sessions")}),
    )
    readonly_fields = ("tokens_valid_after", "sessions")
    list_display = ("username", "display_name", "email", "is_active", "is_staff", "last_login")
    actions = ("log_out_everywhere",)

    def user_change_password(self, request, id, form_url=""):
        """Django's form; if admins change their own password, register the session that survives."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302 and str(request.user.pk) == str(id):
            services.password_changed(request=request, user=request.user)
        return response

    @admin.display(description="Sessions")
    def sessions(self, obj):
        """The latest sessions inline, read-only; a user may have thousands, so at most 20."""
        if obj.pk is None:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (describe_user_agent(s.user_agent), s.get_engine_display(), s.ip or "-", s.last_seen, s.expires_at)
                for s in list_active_sessions(user=obj)[:20]
            ),
        )
        url = reverse("admin:accounts_usersession_changelist") + "?" + urlencode({"q": obj.get_username()})
        return format_html(
            "<table><thead><tr><th>Browser</th><th>Engine</th><th>IP</th><th>Last seen</th><th>Expires</th></tr>"
            '</thead><tbody>{}</tbody></table><p><a href="{}">All sessions of this user</a>; revoke them there, '
            "or with the action “Log out everywhere”.</p>",
            rows or format_html("<tr><td colspan=5>No active sessions.</td></tr>"),
            url,
        )

    @admin.action(description="Log out everywhere", permissions=["change"])
    def log_out_everywhere(self, request, queryset):
        for user in queryset:
            services.revoke_everything(user=user, reason="admin", actor=request.user, request=request)
        self.message_user(request, f"Logged out {queryset.count()} user(s) everywhere.", messages.SUCCESS)


class ActivityFilter(admin.SimpleListFilter):
    title = "activity"
    parameter_name = "activity"

    def lookups(self, request, model_admin):
        return (("hour", "Seen in the last hour"), ("day", "Seen today"), ("idle", "Idle for a day or more"))

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "hour":
            return queryset.filter(last_seen__gte=now - timedelta(hours=1))
        if self.value() == "day":
            return queryset.filter(last_seen__gte=now - timedelta(days=1))
        if self.value() == "idle":
            return queryset.filter(last_seen__lt=now - timedelta(days=1))
        return queryset


@admin.register(UserSession)
class UserSessionAdmin(UserOrAddressSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    paginator = CappedCountPaginator
    list_display = ("user", "client", "ip", "engine", "device_bound", "created_at", "last_seen", "expires_at")
    list_filter = ("engine", ActivityFilter)
    list_select_related = ("user", "device_binding")
    ordering = ("-last_seen",)
    show_full_result_count = False
    actions = ("revoke_selected",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(expires_at__gt=timezone.now())

    @admin.display(description="Browser")
    def client(self, obj):
        return describe_user_agent(obj.user_agent)

    @admin.display(description="Device-bound", boolean=True)
    def device_bound(self, obj):
        """Whether the browser bound this session to a key it holds (devicebound, DBSC)."""
        return hasattr(obj, "device_binding")

    @admin.action(description="Revoke selected sessions", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        ended = kept = 0
        for session in queryset.select_related("user"):
            if services.revoke_session(session=session, actor=request.user, request=request):
                ended += 1
            else:
                kept += 1
        self.message_user(request, f"Revoked {ended} session(s); their next request arrives logged out.")
        if kept:
            self.message_user(
                request, f"{kept} signed-cookie session(s) cannot be ended by the server.", messages.WARNING
            )


@admin.register(TokenFamily)
class TokenFamilyAdmin(UserOrAddressSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    paginator = CappedCountPaginator
    list_display = ("user", "transport", "created_at", "last_used_at", "expires_at", "revoked_at", "revoked_reason")
    list_filter = ("transport", "revoked_reason")
    list_select_related = ("user",)
    ordering = ("-last_used_at",)
    show_full_result_count = False
    actions = ("revoke_selected",)

    @admin.action(description="Revoke selected API logins", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        for family in queryset.filter(revoked_at__isnull=True).select_related("user"):
            services.revoke_family(family=family, reason="admin", actor=request.user, request=request)
        self.message_user(request, "Revoked the selected API logins: their refresh tokens are blacklisted.")


admin.site.unregister(OutstandingToken)


@admin.register(OutstandingToken)
class OutstandingTokenAdmin(StockOutstandingTokenAdmin):
    """SimpleJWT's read-only admin, plus an action that blacklists the selected tokens."""

    has_revoke_permission = ReadOnlyAdminMixin.has_revoke_permission

    show_full_result_count = False
    paginator = CappedCountPaginator
    ordering = ("-id",)  # the stock admin orders by user: a sort of the whole table
    list_select_related = ("user",)
    actions = ("blacklist_selected",)

    @admin.action(description="Blacklist selected tokens", permissions=["revoke"])
    def blacklist_selected(self, request, queryset):
        count = services.blacklist_tokens(tokens=queryset, actor=request.user, request=request)
        self.message_user(request, f"Blacklisted {count} token(s).")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    paginator = CappedCountPaginator
    list_display = ("at", "kind", "user", "username", "actor", "ip")
    list_filter = ("kind",)
    search_fields = ("=username", "=ip")
    list_select_related = ("user", "actor")
    show_full_result_count = False
