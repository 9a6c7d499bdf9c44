"""Forms: Django's own, with bounded fields so oversized input is a form error."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.validators import MaxLengthValidator

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


class RevokeForm(forms.Form):
    """Which of your sessions or API logins to end."""

    id = forms.UUIDField()
