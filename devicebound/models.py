"""A browser session bound to a key the browser keeps (DBSC, W3C draft)."""

import uuid

from django.db import models

from accounts.models import UserSession


class DeviceBinding(models.Model):
    """The public key a browser registered for one session of the registry.

    `id` is the DBSC session identifier the browser sends back in `Sec-Secure-Session-Id`.
    `challenge` is the one outstanding refresh challenge: a proof consumes it (single use).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.OneToOneField(UserSession, on_delete=models.CASCADE, related_name="device_binding")
    algorithm = models.CharField(max_length=10)
    public_jwk = models.JSONField()
    thumbprint = models.CharField(max_length=64, help_text="RFC 7638 SHA-256 thumbprint of the key.")
    created_at = models.DateTimeField()
    refreshed_at = models.DateTimeField(null=True, blank=True)
    challenge = models.CharField(max_length=64, blank=True)
    challenge_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "device binding"

    def __str__(self) -> str:
        return f"{self.algorithm} key {self.thumbprint[:12]} for {self.session_id}"
