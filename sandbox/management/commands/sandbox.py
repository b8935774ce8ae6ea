import time

from django.core.management.base import BaseCommand, CommandError

from sandbox.server import SandboxServer


class Command(BaseCommand):
    help = "Serve fake Al-Style and Kaspi APIs on 127.0.0.1 until Ctrl-C (for demos; needs no database)."

    requires_system_checks = []  # a fake outside service: it must start even before migrations

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--products", type=int, default=3000)
        parser.add_argument("--orders", type=int, default=300)
        parser.add_argument("--order-days", type=int, default=60, help="orders are spread over this many days")
        parser.add_argument("--interval", type=float, default=5.0, help="Al-Style's seconds between requests")
        parser.add_argument("--fail-rate", type=float, default=0.0, help="share of requests that fail (0..1)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--order-every", type=float, help="add a new order every this many seconds")
        parser.add_argument("--alstyle-token", default="sandbox-alstyle-token")
        parser.add_argument("--kaspi-token", default="sandbox-kaspi-token")

    def handle(self, **options):
        if not 0 <= options["fail_rate"] <= 1:
            raise CommandError("--fail-rate must be between 0 and 1")
        if options["order_days"] < 1:
            raise CommandError("--order-days must be at least 1")
        try:
            server = SandboxServer(
                port=options["port"],
                products=options["products"],
                orders=options["orders"],
                order_days=options["order_days"],
                interval=options["interval"],
                alstyle_token=options["alstyle_token"],
                kaspi_token=options["kaspi_token"],
                fail_rate=options["fail_rate"],
                seed=options["seed"],
                order_every=options["order_every"],
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on port {options['port']}: {exc}") from None
        server.start()
        self.stdout.write(
            f"Sandbox running; put these in .env:\n"
            f"ALSTYLE_API_URL={server.alstyle_url}\n"
            f"ALSTYLE_TOKEN={options['alstyle_token']}\n"
            f"KASPI_API_URL={server.kaspi_url}\n"
            f"KASPI_TOKEN={options['kaspi_token']}\n"
            f"Press Ctrl-C to stop."
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.stdout.write("Sandbox stopped.")
        finally:
            server.stop()
