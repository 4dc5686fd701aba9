"""python manage.py brokers_load [--path FILE]: load the broker master (trading/orders/brokers.yaml)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from trading import services
from trading.orders.routing import BROKER_FILE, RoutingError


class Command(BaseCommand):
    help = "Load the broker master (which markets each broker reaches, which custodians it settles with)."

    def add_arguments(self, parser):
        parser.add_argument("--path", default=str(BROKER_FILE))

    def handle(self, *args, **opts):
        try:
            count = services.brokers_load(path=opts["path"])
        except (RoutingError, OSError) as exc:
            raise CommandError(f"broker master not loaded: {exc}") from exc
        self.stdout.write(f"{count} broker(s) loaded from {opts['path']}")
