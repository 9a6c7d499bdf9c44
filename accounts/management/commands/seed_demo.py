"""Create the demo users alice, bob and admin with the passwords the README documents."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_USERS
from accounts.models import User


class Command(BaseCommand):
    help = "Create or reset the demo users (alice, bob, admin). Refuses with debug off unless --force."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DJANGO_DEBUG off.")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to create demo users with known passwords while DJANGO_DEBUG is off; "
                "pass --force if you really mean it."
            )
        for username, display_name, password, admin in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            user.display_name = display_name
            user.email = f"{username}@example.com"  # "Forgot your password?" mails it (console in development)
            user.is_staff = user.is_superuser = admin
            user.is_active = True
            user.set_password(password)
            user.save()
            self.stdout.write(f"{'created' if created else 'reset'} {username} / {password}")
