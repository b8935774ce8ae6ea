import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext, gettext_lazy

from sandbox.server import SandboxServer


class Command(BaseCommand):
    requires_system_checks = []  # a fake outside service: it must start even before migrations

    @property
    def help(self):
        # A plain str in the language of the moment, as argparse wants: the sandbox imports nothing of the
        # project, so not the lazy help of `common.commands`.
        return gettext("Serve fake Al-Style and Kaspi APIs on 127.0.0.1 until Ctrl-C (for demos; needs no database).")

    def add_arguments(self, parser):
        add = parser.add_argument
        add("--port", type=int, default=8001, help=gettext_lazy("port to listen on (default: %(default)s)"))
        add("--products", type=int, default=3000, help=gettext_lazy("products in the catalogue (default: %(default)s)"))
        add("--orders", type=int, default=300, help=gettext_lazy("orders at the start (default: %(default)s)"))
        add("--order-days", type=int, default=60, help=gettext_lazy("orders are spread over this many days"))
        add("--interval", type=float, default=5.0, help=gettext_lazy("Al-Style's seconds between requests"))
        add("--fail-rate", type=float, default=0.0, help=gettext_lazy("share of requests that fail (0..1)"))
        add("--seed", type=int, default=42,
            help=gettext_lazy("the same seed makes the same catalogue and orders (default: %(default)s)"))
        add("--order-every", type=float, help=gettext_lazy("add a new order every this many seconds"))
        add("--alstyle-token", default="sandbox-alstyle-token", help=gettext_lazy("the token Al-Style accepts"))
        add("--kaspi-token", default="sandbox-kaspi-token", help=gettext_lazy("the token Kaspi accepts"))

    def handle(self, **options):
        if not 0 <= options["fail_rate"] <= 1:
            raise CommandError(gettext("--fail-rate must be between 0 and 1"))
        if options["order_days"] < 1:
            raise CommandError(gettext("--order-days must be at least 1"))
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
            raise CommandError(gettext("cannot listen on port %(port)d: %(error)s") % {"port": options["port"],
                                                                                      "error": exc}) from None
        server.start()
        self.stdout.write(gettext("Sandbox running; put these in .env:\n%(settings)s\nPress Ctrl-C to stop.") % {
            "settings": f"ALSTYLE_API_URL={server.alstyle_url}\n"
                        f"ALSTYLE_TOKEN={options['alstyle_token']}\n"
                        f"KASPI_API_URL={server.kaspi_url}\n"
                        f"KASPI_TOKEN={options['kaspi_token']}"})
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.stdout.write(gettext("Sandbox stopped."))
        finally:
            server.stop()
