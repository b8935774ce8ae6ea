"""`make demo`: the whole product on one machine, with no credentials and no internet."""

import os
import secrets
import shlex
import socket
import sys
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from catalog.models import PricingRule, Store
from catalog.services import SyncError, products_sync
from common.commands import BaseCommand
from feeds.services import feed_build
from kaspiconnect.processes import run_web_and_queue
from orders.models import CommissionRate
from sandbox.server import SandboxServer

DEMO_INTERVAL = 1.0  # seconds between supplier requests: the real 5 s would make the demo slow
DEMO_ORDER_EVERY = 120  # a sandbox buyer places a new order this often, seconds
DEMO_FETCH_EVERY = 300  # the sandbox plays Kaspi fetching the feed this often, seconds (Kaspi: 30 to 60 min)


class Command(BaseCommand):
    help = gettext_lazy("Start the sandbox APIs, prepare a demo shop, sync, build the feed, and serve it all.")

    def add_arguments(self, parser):
        parser.add_argument("--address", default="127.0.0.1:8000",
                            help=gettext_lazy("host:port of the admin (default: %(default)s)"))
        parser.add_argument("--sandbox-port", type=int, default=8765,
                            help=gettext_lazy("port of the sandbox APIs (default: %(default)s)"))
        parser.add_argument("--products", type=int, default=3000,
                            help=gettext_lazy("products in the sandbox catalogue (default: %(default)s)"))

    def handle(self, *args, address, sandbox_port, products, **options):
        # Before anything is printed: the URLs of a demo already running there would not be this one's.
        check_free(address)
        try:
            sandbox = SandboxServer(port=sandbox_port, products=products, interval=DEMO_INTERVAL,
                                    order_every=DEMO_ORDER_EVERY).start()
        except OSError as exc:
            raise CommandError(_("cannot start the sandbox on port %(port)d: %(error)s. Is another demo running? "
                                 "Stop it, or choose another port with --sandbox-port.")
                               % {"port": sandbox_port, "error": exc}) from None
        demo_env = self.configure(sandbox)
        self.stdout.write(_("sandbox APIs at %(url)s (Al-Style and Kaspi)") % {"url": sandbox.url})
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.prepare_shop()
        self.first_run()
        call_command("setup_schedules")
        feed_url = f"http://{address}/feeds/{settings.FEED_TOKEN}/kaspi.xml"
        sandbox.fetch_feed_every(feed_url, DEMO_FETCH_EVERY)
        minutes = DEMO_FETCH_EVERY // 60
        self.stdout.write(ngettext("Kaspi's fetch of the feed is simulated: the sandbox fetches it every "
                                   "%(minutes)d minute.",
                                   "Kaspi's fetch of the feed is simulated: the sandbox fetches it every "
                                   "%(minutes)d minutes.", minutes) % {"minutes": minutes})
        self.stdout.write(self.style.SUCCESS("\n" + _("admin:  %(admin)s\nfeed:   %(feed)s\nCtrl-C stops everything.")
                                             % {"admin": f"http://{address}/admin/", "feed": feed_url} + "\n"))
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
            "SANDBOX_URL": sandbox.url,  # the admin links to the sandbox's pages (the buyers' codes)
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
        # The demo's own key (var/field_encryption_key, beside its database): a restarted demo reads its orders.
        env["FIELD_ENCRYPTION_KEYS"] = ",".join(settings.FIELD_ENCRYPTION_KEYS)
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
        self.prepare_admin()

    def prepare_admin(self):
        """A new demo makes the user `admin` and shows its password once; a restarted one says how to
        get a password again: DEMO_ADMIN_PASSWORD sets it, `changepassword` resets it."""
        chosen = os.environ.get("DEMO_ADMIN_PASSWORD")
        admin = get_user_model().objects.filter(username="admin").first()
        if admin is None:
            password = chosen or secrets.token_urlsafe(9)
            get_user_model().objects.create_superuser("admin", "admin@example.com", password)
            self.stdout.write(self.style.WARNING(_("admin user: admin / %(password)s  (shown once)")
                                                 % {"password": password}))
        elif chosen:
            admin.set_password(chosen)
            admin.save(update_fields=["password"])
            self.stdout.write(self.style.WARNING(_("admin user: admin, password from DEMO_ADMIN_PASSWORD")))
        else:
            self.stdout.write(self.style.WARNING(
                _("admin user: admin, with the password shown when this demo first started. To set another: "
                  "DEMO_ADMIN_PASSWORD=… make demo, or %(command)s") % {"command": reset_command()}))

    def first_run(self):
        self.stdout.write(_("reading the sandbox catalogue…"))
        try:
            run = products_sync(progress=self.stdout.write)
            self.stdout.write(_("catalogue: %(counts)s") % {"counts": ", ".join([
                ngettext("%(count)d new", "%(count)d new", run.created) % {"count": run.created},
                run.counted("updated"), run.counted("skipped")])})
        except SyncError as exc:
            self.stderr.write(_("catalogue sync failed: %(error)s") % {"error": exc})
        feed = feed_build()
        offers = ngettext("%(count)d offer", "%(count)d offers", feed.offers) % {"count": feed.offers}
        self.stdout.write((_("feed: %(outcome)s, %(offers)s %(reason)s")
                           % {"outcome": feed.get_outcome_display(), "offers": offers, "reason": feed.reason}).rstrip())


def check_free(address):
    """Refuse a web address another process (another demo) listens on, saying which and what to do."""
    host, _colon, port = address.rpartition(":")
    try:
        family, kind, proto, _name, where = socket.getaddrinfo(host.strip("[]") or None, int(port),
                                                               type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            probe.bind(where)
    except (OSError, ValueError) as exc:
        raise CommandError(_("cannot serve the demo at %(address)s: %(error)s. Is another demo running? Stop it, "
                             "or choose another address with --address.")
                           % {"address": address, "error": exc}) from None


def reset_command():
    """`manage.py changepassword admin` against the demo's own database, ready to paste."""
    words = [sys.executable, "manage.py", "changepassword", "admin"]
    database = os.environ.get("DATABASE_URL")
    prefix = f"DATABASE_URL={shlex.quote(database)} " if database else ""
    return prefix + shlex.join(words)
