"""`make demo`: the whole product on one machine, with no credentials and no internet."""

import os
import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from catalog.models import PricingRule, Store
from catalog.services import SyncError, products_sync
from feeds.services import feed_build
from kaspiconnect.processes import run_web_and_queue
from orders.models import CommissionRate
from sandbox.server import SandboxServer

DEMO_INTERVAL = 1.0  # seconds between supplier requests: the real 5 s would make the demo slow
DEMO_ORDER_EVERY = 120  # a sandbox buyer places a new order this often, seconds


class Command(BaseCommand):
    help = "Start the sandbox APIs, prepare a demo shop, sync, build the feed, and serve it all."

    def add_arguments(self, parser):
        parser.add_argument("--address", default="127.0.0.1:8000")
        parser.add_argument("--sandbox-port", type=int, default=8765)
        parser.add_argument("--products", type=int, default=3000)

    def handle(self, *args, address, sandbox_port, products, **options):
        try:
            sandbox = SandboxServer(port=sandbox_port, products=products, interval=DEMO_INTERVAL,
                                    order_every=DEMO_ORDER_EVERY).start()
        except OSError as exc:
            raise CommandError(f"cannot start the sandbox on port {sandbox_port}: {exc} (try --sandbox-port)") from None
        demo_env = self.configure(sandbox)
        self.stdout.write(f"sandbox APIs at {sandbox.url} (Al-Style and Kaspi)")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.prepare_shop()
        self.first_run()
        call_command("setup_schedules")
        self.stdout.write(self.style.SUCCESS(
            f"\nadmin:  http://{address}/admin/\n"
            f"feed:   http://{address}/feeds/{settings.FEED_TOKEN}/kaspi.xml\n"
            "Ctrl-C stops everything.\n"
        ))
        try:
            run_web_and_queue(address=address, extra_env=demo_env, out=self.stdout.write)
        finally:
            sandbox.stop()

    def configure(self, sandbox):
        """Point this process and its children at the sandbox, whatever `.env` says."""
        values = {
            "ALSTYLE_API_URL": sandbox.alstyle_url,
            "ALSTYLE_TOKEN": sandbox.state.alstyle_token,
            "ALSTYLE_MIN_INTERVAL": DEMO_INTERVAL,
            "KASPI_API_URL": sandbox.kaspi_url,
            "KASPI_TOKEN": sandbox.state.kaspi_token,
            "TELEGRAM_API_URL": sandbox.telegram_url,  # alerts go to the sandbox's fake Telegram
            "TELEGRAM_BOT_TOKEN": "sandbox-bot-token",
            "TELEGRAM_CHAT_ID": "-100",
            "KASPI_MERCHANT_ID": "DEMO1",
            "KASPI_COMPANY": "Демо-магазин",
            "FEED_TOKEN": settings.FEED_TOKEN or self.stable_feed_token(),
            "DEBUG": False,
        }
        for name, value in values.items():
            setattr(settings, name, value)
        env = {name: str(value) for name, value in values.items()}
        env["DATABASE_URL"] = os.environ.get("DATABASE_URL", "")
        env["KASPICONNECT_QUIET"] = "1"  # the missing-.env warning was said once already
        env["FEED_DIR"] = str(settings.FEED_DIR)
        return {name: value for name, value in env.items() if value}

    def stable_feed_token(self):
        path = settings.STATE_DIR / "demo-feed-token"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(24))
        return path.read_text().strip()

    def prepare_shop(self):
        Store.objects.get_or_create(store_id="PP1", defaults={"name": "Основной склад"})
        if not PricingRule.objects.exists():
            PricingRule.objects.create(name="Общая наценка", markup_percent=15, min_margin_percent=5,
                                       rounding="90")
        # Kaspi's 2026 tariff: 12.5 % for most categories (the default), 15.5 % for phone accessories and cables.
        for title in ("Кабели и патч-корды", "Внешние аккумуляторы"):
            CommissionRate.objects.get_or_create(category_title=title, defaults={"percent": Decimal("15.5")})
        user_model = get_user_model()
        if not user_model.objects.filter(username="admin").exists():
            password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(9)
            user_model.objects.create_superuser("admin", "admin@example.com", password)
            self.stdout.write(self.style.WARNING(f"admin user: admin / {password}  (shown once)"))

    def first_run(self):
        self.stdout.write("reading the sandbox catalogue…")
        try:
            run = products_sync(progress=self.stdout.write)
            self.stdout.write(f"catalogue: {run.created} new, {run.updated} updated, {run.skipped} skipped")
        except SyncError as exc:
            self.stderr.write(f"catalogue sync failed: {exc}")
        feed = feed_build()
        self.stdout.write(f"feed: {feed.get_outcome_display()}, {feed.offers} offers {feed.reason}".rstrip())
