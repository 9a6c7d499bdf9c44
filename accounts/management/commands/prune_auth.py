"""Remove expired sessions, registry rows, tokens and old audit rows, in batches."""

from django.core.management.base import BaseCommand

from accounts.housekeeping import prune_expired


class Command(BaseCommand):
    help = "Delete expired sessions, registry rows, outstanding/blacklisted tokens, ended API logins, old audit rows."

    def add_arguments(self, parser):
        parser.add_argument("--audit-days", type=int, default=90, help="Keep audit events this many days.")
        parser.add_argument("--batch-size", type=int, default=5000, help="Rows per delete transaction.")

    def handle(self, *args, audit_days: int, batch_size: int, **options):
        for what, count in prune_expired(audit_days=audit_days, batch_size=batch_size).items():
            self.stdout.write(f"{what}: {count} deleted")
