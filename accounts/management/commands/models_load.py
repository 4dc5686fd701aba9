"""Load a model delivery CSV: every line checked first; a bad line names itself and nothing loads."""
import json

from django.core.management.base import BaseCommand, CommandError

from accounts.exceptions import ModelFileError
from accounts.services import model_delivery_load
from onboarding.exceptions import MeridianError
from onboarding.models import Firm


class Command(BaseCommand):
    help = "Load model portfolios from an asset manager's CSV delivery file"

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--publisher", type=int, help="Firm id of the publishing asset manager")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        publisher = Firm.objects.get(pk=opts["publisher"]) if opts.get("publisher") else None
        try:
            report = model_delivery_load(path=opts["path"], publisher=publisher)
        except (ModelFileError, MeridianError) as exc:
            if opts["json"]:
                self.stdout.write(json.dumps({"ok": False, "code": exc.code, "message": exc.message, "detail": exc.detail}))
                raise SystemExit(1) from exc
            raise CommandError(exc.message) from exc
        if opts["json"]:
            self.stdout.write(json.dumps({"ok": True, "models": report}))
        else:
            for row in report:
                self.stdout.write(f"{row['code']} v{row['version']} ({row['lines']} lines){'' if row['created'] else ' unchanged'}")
