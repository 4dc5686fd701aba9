"""Create, list or revoke partner API tokens. The token is printed once and stored hashed."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from onboarding.api.auth import api_token_create, api_token_revoke
from onboarding.exceptions import MeridianError
from onboarding.models import ApiToken, User


class Command(BaseCommand):
    help = "Manage partner API tokens."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "list", "revoke"])
        parser.add_argument("--username")
        parser.add_argument("--name", default="partner")
        parser.add_argument("--scopes", default="read,write")
        parser.add_argument("--prefix", help="token prefix to revoke")

    def handle(self, *args, **options):
        try:
            if options["action"] == "create":
                user = User.objects.filter(username=options["username"]).first()
                if user is None:
                    raise CommandError(f"no user '{options['username']}'")
                _, token = api_token_create(user=user, name=options["name"], scopes=options["scopes"].split(","))
                self.stdout.write(token)
            elif options["action"] == "list":
                for token in ApiToken.objects.select_related("user").order_by("pk"):
                    state = "revoked" if token.revoked_at else "active"
                    self.stdout.write(f"{token.prefix}  {token.name}  {token.user.username}  {','.join(token.scopes)}  {state}")
            else:
                token = ApiToken.objects.filter(prefix=options["prefix"]).first()
                if token is None:
                    raise CommandError(f"no token with prefix '{options['prefix']}'")
                api_token_revoke(token=token, actor=None)
                self.stdout.write(f"revoked {token.prefix}")
        except MeridianError as exc:
            raise CommandError(exc.message) from exc
