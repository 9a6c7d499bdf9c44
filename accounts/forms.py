"""Forms: Django's own, with bounded fields so oversized input is a form error."""

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.views.decorators.debug import sensitive_variables

from accounts.models import User

MAX_PASSWORD = 1024


class LoginForm(AuthenticationForm):
    """Django's login form; one message for an unknown user and a wrong password."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].validators.append(MaxLengthValidator(MAX_PASSWORD))
        self.fields["password"].widget.attrs["maxlength"] = MAX_PASSWORD


class RememberLoginForm(LoginForm):
    """The login page's form: unticked, the session ends when the browser closes."""

    remember = forms.BooleanField(
        required=False,
        label="Remember me",
        help_text="Stay logged in on this browser for a week. Unticked, closing the browser logs you out.",
    )


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "display_name", "email")
        help_texts = {
            "display_name": "How we greet you, for example Alice.",
            "email": "Optional; only used to mail you a link if you forget your password.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("password1", "password2"):
            self.fields[name].validators.append(MaxLengthValidator(MAX_PASSWORD))


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form; the old password is checked as a login is, so guessing it is limited.

    `authenticate()` puts the check behind django-axes (a failure counts for this username
    and address, and a locked-out pair is refused before any hash) and sends
    `user_login_failed`, which counts the failure against the address (accounts.limits).
    Checking `user.check_password()`, as Django's form does, would let a stolen session
    guess the password without limit.
    """

    def __init__(self, user, *args, request, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.request = request
        for name in ("old_password", "new_password1", "new_password2"):
            self.fields[name].validators.append(MaxLengthValidator(MAX_PASSWORD))

    @sensitive_variables("old_password")
    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        checked = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if checked is None or checked.pk != self.user.pk:
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's form; the mailed link starts with SITE_URL, never with the request's Host.

    Django builds the link from the request's host and scheme unless told otherwise, and a
    client chooses its Host header (any port on an allowed name passes ALLOWED_HOSTS).
    """

    def save(self, **kwargs):
        origin = urlsplit(settings.SITE_URL)
        return super().save(**{**kwargs, "domain_override": origin.netloc, "use_https": origin.scheme == "https"})


class RevokeForm(forms.Form):
    """Which of your sessions or API logins to end."""

    id = forms.UUIDField()
