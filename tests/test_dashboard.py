import itertools
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from feeds.models import FeedFetch, FeedRun
from jobs.models import JobRun
from monitoring import charts
from monitoring.dashboard import dashboard
from monitoring.models import Alert
from orders.models import KaspiStatus, Order, StatusChange

ALMATY = ZoneInfo("Asia/Almaty")
_codes = itertools.count(1000)


def _order(**fields):
    code = str(next(_codes))
    defaults = {"kaspi_id": f"k{code}", "code": code, "state": "NEW", "status": KaspiStatus.ACCEPTED_BY_MERCHANT,
                "created_at_kaspi": timezone.now(), "total_price": 1000}
    return Order.objects.create(**{**defaults, **fields})


def _tiles(request):
    return {tile.title: tile for tile in dashboard(request=request)["tiles"]}


@pytest.fixture(autouse=True)
def _english(settings):
    """The assertions read the English strings, whatever translations exist by then."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("hours_ago", "colour", "state"), [(1, "green", "on time"), (30, "amber", "late"), (60, "red", "overdue")]
)
def test_it_colours_the_full_sync_tile_by_its_last_success(admin_request, make_run, hours_ago, colour, state):
    make_run("sync_products", ago=timedelta(hours=hours_ago))  # daily: late after 26.4 h, failing after 50.4 h

    tile = _tiles(admin_request)["Supplier catalogue, full sync"]

    assert (tile.colour, tile.state) == (colour, state)
    assert tile.age.endswith(" ago")


def test_its_thresholds_follow_the_jobs_interval(admin_request, make_run, settings):
    make_run("sync_orders", ago=timedelta(hours=1))
    assert _tiles(admin_request)["Kaspi orders imported"].colour == "red"  # every 5 minutes: 12 runs missed
    settings.ORDERS_SYNC_MINUTES = 60
    assert _tiles(admin_request)["Kaspi orders imported"].colour == "green"


def test_it_has_a_tile_for_every_job_amber_before_its_first_run(admin_request):
    tiles = _tiles(admin_request)

    assert list(tiles) == [
        "Supplier catalogue, full sync", "Supplier stock and prices", "Feed built and published",
        "Kaspi orders imported", "Status changes sent to Kaspi", "Supplier orders at Al-Style", "Alert check",
        "Feed fetched by Kaspi",
    ]
    assert {(tile.colour, tile.state, tile.at) for tile in tiles.values()} == {("amber", "never ran", None)}


def test_it_turns_red_when_the_latest_run_failed_and_shortens_its_error(admin_request, make_run):
    make_run("sync_orders", ago=timedelta(minutes=3))
    make_run("sync_orders", "failed", ago=timedelta(minutes=2), error="Kaspi answered 503 " + "x" * 500)
    make_run("sync_orders", "failed", ago=timedelta(minutes=1), error="Kaspi answered 503 " + "x" * 500)
    make_run("sync_orders", "running")  # not finished: no verdict yet

    tile = _tiles(admin_request)["Kaspi orders imported"]

    assert (tile.colour, tile.state, tile.detail) == ("red", "failed", "failed 2 times in a row")
    assert tile.error.startswith("Kaspi answered 503") and len(tile.error) == 200
    assert tile.at is not None  # the last success is still shown


def test_a_failed_daily_sync_is_red_the_same_day_whatever_the_stock_refresh_does(admin_request, make_run):
    make_run("sync_products", ago=timedelta(hours=25))
    make_run("sync_products", "failed", ago=timedelta(hours=1), error="token rejected")
    make_run("refresh_stock", ago=timedelta(minutes=5))

    tiles = _tiles(admin_request)

    assert (tiles["Supplier catalogue, full sync"].colour, tiles["Supplier catalogue, full sync"].error) == (
        "red", "token rejected")
    assert tiles["Supplier stock and prices"].colour == "green"


def test_it_counts_only_published_feeds_and_shows_why_the_latest_was_held(admin_request, make_build):
    make_build("published", ago=timedelta(minutes=20))
    make_build("held", ago=timedelta(minutes=5), reason="Available offers fell by 80%")
    make_build("dry_run")

    tile = _tiles(admin_request)["Feed built and published"]

    assert (tile.colour, tile.state) == ("red", "failed")
    assert tile.error == "held by the safety guard: Available offers fell by 80%"
    assert tile.url == "/admin/feeds/feedrun/"


def test_it_counts_only_successful_feed_fetches(admin_request, make_build):
    now = timezone.now()
    make_build(ago=timedelta(hours=3))
    FeedFetch.objects.create(at=now - timedelta(hours=2.5), status=200)
    FeedFetch.objects.create(at=now - timedelta(hours=1), status=304)

    tile = _tiles(admin_request)["Feed fetched by Kaspi"]
    assert (tile.colour, tile.at) == ("green", now - timedelta(hours=1))

    FeedFetch.objects.create(at=now, status=503)
    tile = _tiles(admin_request)["Feed fetched by Kaspi"]
    assert (tile.colour, tile.error) == ("red", "Kaspi got HTTP 503")


@pytest.fixture
def published_feed(store, make_product, settings):
    from feeds.services import feed_build

    make_product(sku="V1")
    assert feed_build().outcome == FeedRun.Outcome.PUBLISHED
    return reverse("feeds:kaspi", args=[settings.FEED_TOKEN])


def test_it_counts_a_program_but_not_a_signed_in_user_or_a_browser(client, admin_client, admin_request,
                                                                    published_feed):
    browser = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Version/18.1 Mobile/15E148 Safari/604.1")
    client.get(published_feed, headers={"User-Agent": browser}, REMOTE_ADDR="10.0.0.5")
    admin_client.get(published_feed, headers={"User-Agent": "curl/8.5.0"}, REMOTE_ADDR="10.0.0.6")
    tile = _tiles(admin_request)["Feed fetched by Kaspi"]
    assert (tile.at, tile.age) == (None, "never")  # people checked the URL; Kaspi has not come yet
    assert tile.notes == [f"Not counted: a signed-in user at {_short_time(FeedFetch.objects.first().at)}, "
                          "10.0.0.6 · curl/8.5.0"]

    client.get(published_feed, headers={"User-Agent": "Apache-HttpClient/4.5.13 (Java/17.0.2)"},
               REMOTE_ADDR="195.210.46.7")
    kaspi = FeedFetch.objects.by_kaspi().get()
    tile = _tiles(admin_request)["Feed fetched by Kaspi"]
    assert (tile.colour, tile.at) == ("green", kaspi.at)
    assert tile.notes == ["Last fetch: 195.210.46.7 · Apache-HttpClient/4.5.13 (Java/17.0.2)"]

    client.get(published_feed, headers={"User-Agent": browser}, REMOTE_ADDR="10.0.0.5")
    page = admin_client.get("/admin/").content.decode()
    assert "Last fetch: 195.210.46.7 · Apache-HttpClient/4.5.13 (Java/17.0.2)" in page
    assert "Not counted: a browser at" in page and "10.0.0.5 · Mozilla/5.0 (iPhone;" in page


def test_a_browser_fetch_answered_503_is_no_failure_of_kaspi(client, admin_request, published_feed, settings):
    FeedFetch.objects.create(status=200, at=timezone.now() - timedelta(minutes=10))
    (settings.FEED_DIR / "kaspi.xml").unlink()
    client.get(published_feed, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101"})
    assert FeedFetch.objects.first().status == 503
    assert _tiles(admin_request)["Feed fetched by Kaspi"].colour == "green"


def test_a_demo_says_kaspis_fetch_is_simulated(admin_request, settings):
    settings.SANDBOX_URL = "http://127.0.0.1:8765"
    settings.KASPI_API_URL = "http://127.0.0.1:8765/kaspi/shop/api/v2"
    assert _tiles(admin_request)["Feed fetched by Kaspi"].notes == ["Demo: Kaspi's fetch is simulated by the sandbox."]
    settings.KASPI_API_URL = "https://kaspi.kz/shop/api/v2"  # a real setup, whatever SANDBOX_URL says
    assert _tiles(admin_request)["Feed fetched by Kaspi"].notes == []


def _short_time(at):
    return date_format(timezone.localtime(at), "SHORT_DATETIME_FORMAT")


def test_it_counts_what_waits_and_links_to_the_filtered_lists(admin_client, make_product):
    now = timezone.now()
    for state in ["pending", "pending", "approved", "done"]:
        StatusChange.objects.create(order=_order(), action="accept", state=state)
    StatusChange.objects.create(order=_order(), action="accept", state="failed", finished_at=now - timedelta(hours=1))
    StatusChange.objects.create(order=_order(), action="accept", state="failed", finished_at=now - timedelta(days=2))
    _order(status=KaspiStatus.APPROVED_BY_BANK)
    _order(status=KaspiStatus.ACCEPTED_BY_MERCHANT, is_kaspi_delivery=True)
    _order(status=KaspiStatus.ACCEPTED_BY_MERCHANT, is_kaspi_delivery=True, assembled=True,
           courier_transmission_planning_date=now - timedelta(hours=3))
    _order(status=KaspiStatus.CANCELLING)
    _order(status=KaspiStatus.KASPI_DELIVERY_RETURN_REQUESTED)
    make_product(proposed_price=15990)
    make_product()

    response = admin_client.get("/admin/")

    waiting = {item.label: item for item in response.context["dashboard"]["waiting"]}
    assert {label: item.count for label, item in waiting.items()} == {
        "Status changes awaiting approval": 2,
        "Approved, not sent yet": 1,
        "Status changes failed in 24 hours": 1,
        "New orders to accept": 1,
        "Prices held by the guard": 1,
        "Kaspi Delivery orders to hand over": 1,
        "Hand-overs to the courier overdue": 1,
        "Returns on their way back": 2,
    }
    assert waiting["Status changes awaiting approval"].url == "/admin/orders/statuschange/?state__exact=pending"
    assert waiting["New orders to accept"].url == "/admin/orders/order/?status__exact=APPROVED_BY_BANK"
    assert waiting["Prices held by the guard"].url == "/admin/catalog/product/?proposed=yes"
    page = response.content.decode()
    for item in waiting.values():
        assert f'href="{item.url.replace("&", "&amp;")}"' in page
        listed = admin_client.get(item.url)
        assert listed.status_code == 200
        assert listed.context["cl"].result_count == item.count  # the link shows exactly what was counted


def test_it_lists_the_latest_failures_newest_first_with_their_messages(admin_client):
    now = timezone.now()
    JobRun.objects.create(kind="sync_products", started=now - timedelta(hours=3), outcome="failed",
                           error="Al-Style timed out")
    FeedRun.objects.create(started=now - timedelta(hours=2), outcome=FeedRun.Outcome.INVALID,
                           reason="The feed does not match the schema")
    StatusChange.objects.create(order=_order(code="777"), action="accept", state="failed",
                                finished_at=now - timedelta(hours=1), message="<b>order not found</b>")
    for n in range(10):  # older than all of the above: only some of them fit
        JobRun.objects.create(kind="refresh_stock", started=now - timedelta(days=1, hours=n), outcome="failed",
                               error=f"old failure {n}")

    response = admin_client.get("/admin/")

    failures = response.context["dashboard"]["failures"]
    assert [failure.message for failure in failures[:3]] == [
        "<b>order not found</b>", "The feed does not match the schema", "Al-Style timed out",
    ]
    assert failures[0].what == "Status change: accept №777"
    assert len(failures) == 8
    page = response.content.decode()
    assert "&lt;b&gt;order not found&lt;/b&gt;" in page and "<b>order not found" not in page
    assert "old failure 4" in page and "old failure 5" not in page


def test_it_shows_open_alerts_first(admin_client):
    now = timezone.now()
    Alert.objects.create(key="feed-held", kind="feed_held", subject="Feed held", message="Offers fell by 80%",
                         opened=now - timedelta(hours=2))
    Alert.objects.create(key="sync-failing:orders", kind="job_failing", subject="Job “Kaspi orders”",
                         message="<i>HTTP 401</i>", opened=now - timedelta(hours=1))
    Alert.objects.create(key="old", kind="job_failing", subject="Recovered job", message="gone",
                         opened=now - timedelta(days=1), resolved=now - timedelta(hours=20))

    response = admin_client.get("/admin/")

    alerts = response.context["dashboard"]["alerts"]
    assert [(alert.what, alert.message) for alert in alerts] == [
        ("Job “Kaspi orders”", "<i>HTTP 401</i>"), ("Feed held", "Offers fell by 80%"),
    ]
    assert response.context["dashboard"]["alerts_url"] == "/admin/monitoring/alert/?state=open"
    page = response.content.decode()
    assert page.index('id="dashboard-alerts"') < page.index('class="kc-tiles"')
    assert "&lt;i&gt;HTTP 401&lt;/i&gt;" in page and "Recovered job" not in page


def test_it_shows_no_alert_box_when_all_is_well(admin_client):
    assert 'id="dashboard-alerts"' not in admin_client.get("/admin/").content.decode()


def test_it_charts_orders_and_revenue_per_local_day_for_30_days(admin_request):
    today = timezone.localdate()
    evening = datetime.combine(today - timedelta(days=1), datetime.min.time(), tzinfo=ALMATY) + timedelta(hours=23)
    _order(created_at_kaspi=evening, total_price=5000)
    _order(created_at_kaspi=evening + timedelta(hours=2), total_price=7000)  # 01:00 in Almaty, yesterday in UTC
    _order(created_at_kaspi=evening + timedelta(hours=2), total_price=9000, status=KaspiStatus.CANCELLED)
    _order(created_at_kaspi=evening - timedelta(days=40), total_price=1000)  # too old

    orders, revenue, _ = dashboard(request=admin_request)["charts"]

    assert orders["svg"].count('<rect class="bar"') == 30
    assert revenue["svg"].count('<rect class="bar"') == 30
    assert orders["title"] == "Orders per day, last 30 days: 3"
    assert revenue["title"] == "Revenue per day, last 30 days: 12\u00a0000\u00a0₸"
    yesterday, today_label = (date_format(day, "SHORT_DATE_FORMAT") for day in (today - timedelta(days=1), today))
    assert f"<title>{yesterday}: 1 order</title>" in orders["svg"]
    assert f"<title>{today_label}: 2 orders</title>" in orders["svg"]
    assert f"<title>{yesterday}: 5\u00a0000\u00a0₸</title>" in revenue["svg"]
    assert f"<title>{today_label}: 7\u00a0000\u00a0₸</title>" in revenue["svg"]
    assert orders["svg"].count(": 0 orders</title>") == 28


def test_it_charts_offers_of_published_feeds(admin_request):
    now = timezone.now()
    for hours, offers in [(3, 1200), (2, 1250)]:
        FeedRun.objects.create(started=now - timedelta(hours=hours), outcome="published", offers=offers,
                               available_offers=offers - 100)
    FeedRun.objects.create(started=now - timedelta(hours=1), outcome="held", offers=10)
    FeedRun.objects.create(started=now - timedelta(days=31), outcome="published", offers=999)

    offers = dashboard(request=admin_request)["charts"][2]["svg"]

    assert offers.count("<circle") == 4
    assert re.findall(r"<title>[^<]*: (\d+)</title>", offers) == ["1200", "1250", "1100", "1150"]


def test_it_escapes_chart_text():
    svg = charts.bar_chart([("<x>", 3, "a & b")], label='"quoted" <label>')

    assert "&lt;x&gt;" in svg and "a &amp; b" in svg and "&quot;quoted&quot; &lt;label&gt;" in svg
    assert "<x>" not in svg


def _lots(n):
    now = timezone.now()
    for i in range(n):
        at = now - timedelta(hours=i * 3)
        order = _order(created_at_kaspi=at)
        StatusChange.objects.create(order=order, action="accept", state="failed", finished_at=at, message="no")
        JobRun.objects.create(kind="sync_orders", started=at, finished=at, outcome="failed", error="x")
        FeedRun.objects.create(started=at, outcome="published", offers=i)
        FeedFetch.objects.create(at=at, status=200)
        Alert.objects.create(key=f"alert-{next(_codes)}", kind="job_failing", subject="s",
                             message="m", opened=at)


def test_it_costs_as_many_queries_for_200_orders_as_for_5(admin_client, django_assert_max_num_queries):
    _lots(5)
    admin_client.get("/admin/")  # warm up: what is cached after the first visit is not the dashboard's cost
    with CaptureQueriesContext(connection) as small:
        admin_client.get("/admin/")

    _lots(195)
    with django_assert_max_num_queries(len(small)):
        response = admin_client.get("/admin/")
    assert response.status_code == 200 and Order.objects.count() == 200


@pytest.fixture
def viewer(client, db):
    user = User.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(user)
    return user


def test_it_renders_for_staff_with_view_permissions_linking_only_what_they_may_see(client, viewer):
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_statuschange", "view_order"]))
    StatusChange.objects.create(order=_order(), action="accept", state="pending")

    response = client.get("/admin/")

    assert response.status_code == 200
    waiting = {item.label: item for item in response.context["dashboard"]["waiting"]}
    assert waiting["Status changes awaiting approval"].count == 1
    assert waiting["Status changes awaiting approval"].url
    assert waiting["Prices held by the guard"].url is None
    assert all(tile.url is None for tile in response.context["dashboard"]["tiles"])
    assert 'id="dashboard"' in response.content.decode()


def test_it_renders_for_a_superuser_with_the_app_list_and_no_outside_assets(admin_client):
    _lots(3)

    response = admin_client.get("/admin/")

    assert response.status_code == 200
    page = lxml.html.fromstring(response.content)
    assert page.get_element_by_id("dashboard") is not None
    assert page.get_element_by_id("content-main").find_class("app-catalog")  # the admin's app list stays
    assert len(page.find_class("kc-chart")) == 3
    external = [
        url for url in page.xpath("//script/@src | //link/@href | //img/@src | //iframe/@src")
        if re.match(r"^(https?:)?//", url)
    ]
    assert external == []


def test_it_still_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get("/admin/")

    assert response.status_code == 302 and response.url.startswith("/admin/login/")
