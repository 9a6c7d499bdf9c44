"""Signal receivers: each one hands the event to a service."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from accounts import limits, services
from accounts.models import AuditEvent, User


@receiver(user_logged_in, dispatch_uid="accounts.logged_in")
def on_logged_in(sender, request, user, **kwargs):
    services.record_session(request=request, user=user)
    services.record_event(kind=AuditEvent.Kind.LOGIN, request=request, user=user)


@receiver(user_logged_out, dispatch_uid="accounts.logged_out")
def on_logged_out(sender, request, user, **kwargs):
    services.forget_session(request=request)
    services.record_event(kind=AuditEvent.Kind.LOGOUT, request=request, user=user)


@receiver(user_login_failed, dispatch_uid="accounts.login_failed")
def on_login_failed(sender, credentials, request=None, **kwargs):
    services.record_event(kind=AuditEvent.Kind.LOGIN_FAILED, request=request, username=credentials.get("username", ""))
    limits.record_failed_login(request=request)


@receiver(post_save, sender=User, dispatch_uid="accounts.user_saved")
def on_user_saved(sender, instance, created, **kwargs):
    if not created and (not instance.is_active or instance.password_changed):
        services.end_logins_if_any(user=instance, reason="deactivated" if not instance.is_active else "password set")


@receiver(pre_delete, sender=User, dispatch_uid="accounts.user_deleted")
def on_user_deleted(sender, instance, **kwargs):
    services.end_logins_if_any(user=instance, reason="deleted")


@receiver(user_locked_out, dispatch_uid="accounts.locked_out")
def on_locked_out(sender, request, username, ip_address, **kwargs):
    services.record_event(kind=AuditEvent.Kind.LOCKOUT, request=request, username=username or "")
