"""Manage the asymmetric signing keys in JWT_KEYS_DIR (see README "Rotating the signing key")."""

import re
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api import keys


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    if stamp == float("inf"):
        return "while active"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))


# An RFC 7638 thumbprint: a SHA-256 digest in base64url, 43 characters
THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")


class KidParser(CommandParser):
    """One kid in 64 begins with "-" (and one in 4,096 with "--"): argparse would take it for an
    unknown option and report the kid missing (the cause of CPython gh-53580, still open; `--`
    before it also works). A thumbprint-shaped word is always the kid: no option of these
    actions is 43 characters long."""

    def _parse_optional(self, arg_string):
        if THUMBPRINT.fullmatch(arg_string):
            return None
        return super()._parse_optional(arg_string)


class Command(BaseCommand):
    requires_system_checks = []  # it must run to fix what the key checks report
    help = "generate | activate KID | retire KID | remove KID | list: the signing keys in JWT_KEYS_DIR."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, parser_class=KidParser)
        generate = actions.add_parser("generate", help="Create a key that is published but does not sign yet.")
        generate.add_argument("--algorithm", choices=tuple(keys.ALGORITHMS), help="Default: JWT_ALGORITHM.")
        generate.add_argument("--activate", action="store_true", help="Sign with it at once (a first key).")
        for name, text in (
            ("activate", "Sign new tokens with KID; the key it replaces is retired."),
            ("retire", "Withdraw a next key (the active one is retired by activating its successor)."),
            ("remove", "Delete a retired key; its tokens stop verifying."),
        ):
            action = actions.add_parser(name, help=text)
            action.add_argument("kid")
            if name == "remove":
                action.add_argument("--force", action="store_true", help="Even if it may still have live tokens.")
        actions.add_parser("list", help="Every key, its state and until when it verifies.")

    def handle(self, *args, action: str, **options):
        try:
            directory = keys.keys_dir()
            self._run(action, directory, options)
        except keys.KeyFileError as exc:
            raise CommandError(str(exc)) from exc

    def _run(self, action: str, directory, options) -> None:
        signing = settings.SIMPLE_JWT["ALGORITHM"]
        if action == "generate":
            algorithm = options["algorithm"] or signing
            if algorithm not in keys.ALGORITHMS:
                raise CommandError(f"JWT_ALGORITHM={algorithm} has no key files; pass --algorithm.")
            if options["activate"] and algorithm != signing:
                raise CommandError(f"--activate: the site signs with JWT_ALGORITHM={signing}, not {algorithm}.")
            kid = keys.generate_key(directory=directory, algorithm=algorithm)
            if options["activate"]:
                keys.activate_key(directory=directory, kid=kid, algorithm=signing)
            self.stdout.write(kid)
        elif action == "activate":
            keys.activate_key(directory=directory, kid=options["kid"], algorithm=signing)
        elif action == "retire":
            keys.retire_key(directory=directory, kid=options["kid"])
        elif action == "remove":
            keys.remove_key(directory=directory, kid=options["kid"], force=options["force"])
        else:
            for key in keys.load_ring(directory).keys.values():
                row = (key.kid, key.algorithm, key.status, _when(key.created_at), _when(key.live_until()))
                self.stdout.write("  ".join(row))
