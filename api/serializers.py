"""Input validation only; the work is done by api.services."""

from rest_framework import serializers
from rest_framework_simplejwt.serializers import PasswordField, TokenObtainSerializer

from accounts.vocabulary import Via
from api.tokens import MAX_TOKEN_BYTES


class CredentialsSerializer(TokenObtainSerializer):
    """Username and password, checked by Django's `authenticate()` (and its lockout)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Bounded: an oversized field is a 400 with a field error, not a hashing job.
        self.fields["username"] = serializers.CharField(max_length=150, write_only=True)
        self.fields["password"] = PasswordField(max_length=1024, trim_whitespace=False)

    def validate(self, attrs):
        """Authenticate against the Django request, so django-axes can answer a lockout."""
        request = self.context["request"]
        self.context["request"] = getattr(request, "_request", request)
        try:
            return super().validate(attrs)
        finally:
            self.context["request"] = request


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=MAX_TOKEN_BYTES, write_only=True)


class VerifySerializer(serializers.Serializer):
    token = serializers.CharField(max_length=MAX_TOKEN_BYTES, write_only=True)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)
    token_type = serializers.ChoiceField(
        choices=["DPoP"], read_only=True, required=False,
        help_text="`DPoP` when the request carried a DPoP proof: both tokens are bound to its key. "
        "Absent for bearer tokens.",
    )  # fmt: skip


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class DashboardSerializer(serializers.Serializer):
    message = serializers.CharField()
    data = serializers.DictField(help_text="The access token's claims.")


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    authenticated_by = serializers.ChoiceField(choices=Via.AUTHENTICATED)


class CookieLoginSerializer(serializers.Serializer):
    username = serializers.CharField()
    access_expires_at = serializers.DateTimeField()
