"""Django's createsuperuser, refusing a username that looks like another user's."""

from django.contrib.auth.management.commands import createsuperuser

from accounts.models import LOOKALIKE_USERNAME


class Command(createsuperuser.Command):
    def _validate_username(self, username, verbose_field_name, database):
        # Django's own hook for both the prompt and --no-input; it runs field validation
        # only, not the model's clean(), which refuses look-alikes for forms and the admin.
        error = super()._validate_username(username, verbose_field_name, database)
        if error is None and self.UserModel._default_manager.db_manager(database).lookalikes(username).exists():
            return f"Error: {LOOKALIKE_USERNAME}"
        return error
