import itertools
from datetime import timedelta

import pytest

from catalog.models import Brand, Category, Product, Store

_articles = itertools.count(50000)
# The standard sandbox: the same seed makes the same catalogue and orders, ids and codes included.
SANDBOX = {"products": 300, "orders": 120, "order_days": 30, "seed": 7}


@pytest.fixture(autouse=True)
def _queue_runs_inline(monkeypatch):
    """Queued tasks run at once, in the test's process (django-q2 reads its config at import)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


FIELD_KEY = "x8Vv0pQk4d2mYQ3cF9nE7hJt1bLs5gWz6rAoUiKeTyM="  # every test's Fernet key for the buyers' data


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    """Every test gets its own feed folder and state folder, and never waits for rate limits.

    Passwords are hashed the fast way: the real hasher's cost is the point in production and
    only slows each test user down here. Static files come unhashed, as they are in the source.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_ENABLED = False  # the lockout has its own tests; the test client logs in without a request
    from django.core.cache import cache

    cache.clear()  # per-process memory (the wrong-token log's once-a-minute marks) starts empty
    # Pages render without collectstatic's manifest; the browser test serves the collected files.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    settings.FEED_DIR = tmp_path / "feeds"
    settings.STATE_DIR = tmp_path / "state"
    settings.STATIC_ROOT = tmp_path / "static"  # WhiteNoise wants the folder there, empty is fine
    settings.STATIC_ROOT.mkdir()
    settings.ALSTYLE_MIN_INTERVAL = 0
    settings.KASPI_MIN_INTERVAL = 0
    settings.HTTP_BACKOFF = 0
    settings.FEED_TOKEN = "test-feed-token-0123456789"
    settings.ALSTYLE_TOKEN = "sandbox-alstyle-token"
    settings.KASPI_TOKEN = "sandbox-kaspi-token"
    settings.KASPI_MERCHANT_ID = "12345"
    settings.KASPI_COMPANY = "Test shop"
    settings.SKU_PREFIX = ""
    settings.FIELD_ENCRYPTION_KEYS = [FIELD_KEY]


@pytest.fixture(autouse=True)
def _english_unless_russian(request, settings):
    """Tests assert the English source texts; tests marked `russian` see the product as its users do.

    LANGUAGE_CODE, not just an active translation, so that pages the test client fetches (through
    LocaleMiddleware) and texts written outside a request (alerts, order history) agree.
    """
    settings.LANGUAGE_CODE = "ru" if request.node.get_closest_marker("russian") else "en"


@pytest.fixture
def store(db):
    return Store.objects.create(store_id="PP1", name="Main")


@pytest.fixture
def make_product(db):
    """Create a product with sensible defaults; keyword arguments override any field."""

    def make(**fields):
        article = fields.pop("article", next(_articles))
        if isinstance(fields.get("brand"), str):
            fields["brand"], _ = Brand.objects.get_or_create(name=fields["brand"])
        if isinstance(fields.get("category"), int):
            fields["category"], _ = Category.objects.get_or_create(id=fields["category"], defaults={"name": "Cat"})
        defaults = {
            "sku": str(article),
            "name": f"Товар {article}",
            "purchase_price": 10000,
            "price": 12990,
            "supplier_quantity": "5",
            "supplier_stock": 5,
        }
        return Product.objects.create(article=article, **{**defaults, **fields})

    return make


@pytest.fixture
def sandbox(db, settings):
    """The project's own fake Al-Style and Kaspi, with the settings pointing at it."""
    from sandbox.server import SandboxServer

    server = SandboxServer(port=0, **SANDBOX).start()
    server.state.slow_seconds = 0.6
    server.state.drop_seconds = 0.6
    settings.ALSTYLE_API_URL = server.alstyle_url
    settings.KASPI_API_URL = server.kaspi_url
    settings.HTTP_TIMEOUT = 0.4
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _documented_intervals(settings):
    """The jobs' documented intervals, whatever a local .env says: health follows from them."""
    settings.STOCK_REFRESH_MINUTES, settings.CATALOG_SYNC_MINUTES, settings.FEED_BUILD_MINUTES = 30, 1440, 15
    settings.ORDERS_SYNC_MINUTES, settings.STATUS_PUSH_MINUTES, settings.ALERT_CHECK_MINUTES = 5, 2, 5
    settings.FEED_FETCH_MINUTES = 60


@pytest.fixture
def admin_request(rf, admin_user):
    """A request to the admin's front page by a superuser, for code that takes one (the dashboard)."""
    request = rf.get("/admin/")
    request.user = admin_user
    return request


@pytest.fixture
def make_run(db):
    """A finished run of a job, `ago` before now (a timedelta), as the recorder leaves it."""
    from django.utils import timezone

    from jobs.models import JobRun

    def make(kind, outcome="ok", *, ago=None, error="", **fields):
        at = timezone.now() - (ago or timedelta(0))
        if outcome == "failed" and not error:
            error = "HTTP 503"
        return JobRun.objects.create(kind=kind, outcome=outcome, started=at, finished=at, error=error, **fields)

    return make


@pytest.fixture
def make_build(make_run):
    """A feed build `ago` before now, as feed_build records it: a dry run is no run of the job."""
    from django.utils import timezone

    from feeds.models import FeedRun

    def make(outcome="published", *, ago=None, reason="", **fields):
        at = timezone.now() - (ago or timedelta(0))
        build = FeedRun(outcome=outcome, started=at, finished=at, reason=reason, **fields)
        if outcome != FeedRun.Outcome.DRY_RUN:
            failed = outcome != FeedRun.Outcome.PUBLISHED
            build.job_run = make_run("build_feed", "failed" if failed else "ok", ago=ago,
                                     error=f"{build.get_outcome_display()}: {reason}" if failed else "")
        build.save()
        return build

    return make


class KaspiAnswers:
    """What the standard sandbox's Kaspi answers an import of the last 30 days: every page of
    orders (in the order the import asks for them) and every order's lines. Read once a session."""

    def __init__(self, client):
        from django.utils import timezone

        from orders.kaspi import STATES
        from orders.sync import windows

        until = timezone.now()
        self.pages = {state: [] for state in STATES}
        for state in STATES:
            for low, high in windows(until - timedelta(days=SANDBOX["order_days"]), until):
                page, count = 0, 1
                while page < count:
                    data, meta = client.orders_page(state=state, since=low, until=high, page=page)
                    self.pages[state].append((data, meta))
                    page, count = page + 1, meta.get("pageCount", 0)
        ids = [order["id"] for pages in self.pages.values() for data, _meta in pages for order in data]
        self.lines = {order_id: client.entries(order_id) for order_id in ids}


class ReplayedKaspi:
    """A Kaspi client that answers from `KaspiAnswers` instead of the network: the import runs
    through the same code, at no HTTP cost. Anything it was not recorded for fails loudly."""

    requests = 0

    def __init__(self, answers):
        self._pages = {state: iter(pages) for state, pages in answers.pages.items()}
        self._lines = answers.lines
        self._by_code = {
            str(order["attributes"].get("code")): order
            for pages in answers.pages.values() for data, _meta in pages for order in data
            if isinstance(order, dict) and isinstance(order.get("attributes"), dict)
        }

    def orders_page(self, *, state, since, until, page):
        return next(self._pages[state])

    def entries(self, order_id):
        return self._lines[order_id]

    def order_by_code(self, code):
        """An order read by its number: as the pages had it, or None when Kaspi has no such order."""
        return self._by_code.get(str(code))


@pytest.fixture(scope="session")
def kaspi_answers():
    from django.test import override_settings

    from orders.kaspi import KaspiClient
    from sandbox.server import SandboxServer

    server = SandboxServer(port=0, **SANDBOX).start()
    try:
        with override_settings(KASPI_MIN_INTERVAL=0, HTTP_BACKOFF=0):
            return KaspiAnswers(KaspiClient(base_url=server.kaspi_url, token=server.state.kaspi_token))
    finally:
        server.stop()


@pytest.fixture
def imported_orders(db, sandbox, kaspi_answers):
    """The standard sandbox's orders imported by the real import job, from answers read once a
    session; the sandbox is there for what the test sends to Kaspi afterwards."""
    from orders.models import Order
    from orders.sync import orders_sync

    orders_sync(days=SANDBOX["order_days"], client=ReplayedKaspi(kaspi_answers))
    return Order.objects.all()
