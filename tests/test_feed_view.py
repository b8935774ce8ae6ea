import gzip
import hashlib
import os

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.http import http_date

from catalog.models import Product
from feeds.models import FeedFetch, FeedRun
from feeds.services import feed_build

TOKEN = "test-feed-token-0123456789"  # set by tests/conftest.py


@pytest.fixture
def url():
    return reverse("feeds:kaspi", args=[TOKEN])


@pytest.fixture
def published(store, make_product):
    make_product(sku="V1", name="Товар & Co")
    run = feed_build()
    assert run.outcome == FeedRun.Outcome.PUBLISHED
    return run


def body(response):
    return b"".join(response.streaming_content)


def test_it_has_a_stable_address():
    assert reverse("feeds:kaspi", args=["abc"]) == "/feeds/abc/kaspi.xml"


def test_it_answers_404_to_a_wrong_token_and_logs_nothing(client, published):
    response = client.get(reverse("feeds:kaspi", args=["wrong-token-0123456789"]))

    assert response.status_code == 404
    assert not FeedFetch.objects.exists()


def test_it_answers_404_when_no_token_is_configured(client, published, settings, url):
    settings.FEED_TOKEN = ""

    assert client.get(url).status_code == 404
    assert not FeedFetch.objects.exists()


def test_it_answers_503_before_the_first_publish(client, db, url):
    response = client.get(url)

    assert response.status_code == 503
    assert response["Retry-After"] == "600"
    fetch = FeedFetch.objects.get()
    assert (fetch.status, fetch.bytes, fetch.run) == (503, 0, None)


def test_it_answers_503_when_the_published_file_is_gone(client, published, url):
    (settings.FEED_DIR / "kaspi.xml").unlink()

    assert client.get(url).status_code == 503


def test_it_serves_the_published_file(client, published, url):
    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    assert response["ETag"] == f'"{published.sha256}"'  # the served file's own SHA-256
    assert response["Last-Modified"] == http_date((settings.FEED_DIR / "kaspi.xml").stat().st_mtime)
    assert "Accept-Encoding" in response["Vary"]
    assert "Content-Encoding" not in response
    content = body(response)
    assert content == (settings.FEED_DIR / "kaspi.xml").read_bytes()
    assert int(response["Content-Length"]) == len(content) == published.bytes


def test_it_serves_the_gzipped_file_to_clients_that_accept_it(client, published, url):
    response = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})

    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    packed = (settings.FEED_DIR / "kaspi.xml.gz").read_bytes()
    assert response["ETag"] == f'"{hashlib.sha256(packed).hexdigest()}"' != f'"{published.sha256}"'
    assert gzip.decompress(body(response)) == (settings.FEED_DIR / "kaspi.xml").read_bytes()


@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_it_answers_304_to_a_matching_etag(client, published, url, encoding):
    first = client.get(url, headers={"Accept-Encoding": encoding})

    response = client.get(url, headers={"Accept-Encoding": encoding, "If-None-Match": first["ETag"]})

    assert response.status_code == 304
    assert response["ETag"] == first["ETag"]
    assert response.content == b""
    assert [f.status for f in FeedFetch.objects.order_by("at")] == [200, 304]
    assert FeedFetch.objects.order_by("at").last().bytes == 0


def test_it_answers_304_when_not_modified_since(client, published, url):
    last_modified = client.get(url)["Last-Modified"]

    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304


def test_it_serves_a_new_feed_to_a_client_holding_the_old_etag(client, published, url):
    old_etag = client.get(url)["ETag"]
    Product.objects.update(price=999)
    new = feed_build()

    response = client.get(url, headers={"If-None-Match": old_etag})

    assert response.status_code == 200
    assert response["ETag"] == f'"{new.sha256}"' != old_etag
    assert b"<price>999</price>" in body(response)


def test_it_keeps_serving_the_last_good_feed_when_a_build_is_held(client, published, url):
    before = body(client.get(url))
    Product.objects.update(supplier_stock=0)
    assert feed_build().outcome == FeedRun.Outcome.HELD

    response = client.get(url)

    assert response["ETag"] == f'"{published.sha256}"'
    assert body(response) == before


def test_it_answers_head_without_a_body(client, published, url):
    response = client.head(url)

    assert response.status_code == 200
    assert response.content == b""
    assert int(response["Content-Length"]) == published.bytes
    assert response["ETag"] == f'"{published.sha256}"'
    assert FeedFetch.objects.get().bytes == 0


def test_it_refuses_other_methods(client, published, url):
    assert client.post(url).status_code == 405


def test_it_logs_each_fetch(client, published, url):
    body(client.get(url, headers={"User-Agent": "Kaspi/" + "x" * 300}, REMOTE_ADDR="10.1.2.3"))

    fetch = FeedFetch.objects.get()
    assert (fetch.client_ip, fetch.status, fetch.bytes, fetch.run) == ("10.1.2.3", 200, published.bytes, published)
    assert fetch.user_agent == ("Kaspi/" + "x" * 300)[:255]


def test_the_etag_always_belongs_to_the_file_served_even_after_a_crash(client, published, url):
    """A build killed after moving its file into place but before saving its row: the new file is
    served with its own ETag, never under the previous build's, and never answered 304 to it."""
    old_etag = client.get(url)["ETag"]
    new_content = (settings.FEED_DIR / "kaspi.xml").read_bytes().replace(b"</offers>", b"\n</offers>")
    (settings.FEED_DIR / "next.xml").write_bytes(new_content)
    os.replace(settings.FEED_DIR / "next.xml", settings.FEED_DIR / "kaspi.xml")  # no FeedRun saved after it

    response = client.get(url, headers={"If-None-Match": old_etag})

    assert response.status_code == 200 and body(response) == new_content
    assert response["ETag"] == f'"{hashlib.sha256(new_content).hexdigest()}"'


def test_the_previous_token_keeps_working_while_the_url_changes(client, published, settings):
    old, new = TOKEN, "the-new-feed-token-0123456789"
    settings.FEED_TOKEN, settings.FEED_TOKEN_PREVIOUS = new, old

    assert client.get(reverse("feeds:kaspi", args=[new])).status_code == 200
    assert client.get(reverse("feeds:kaspi", args=[old])).status_code == 200  # Kaspi still has the old URL
    settings.FEED_TOKEN_PREVIOUS = ""  # Kaspi's cabinet has the new URL now
    assert client.get(reverse("feeds:kaspi", args=[old])).status_code == 404
    assert client.get(reverse("feeds:kaspi", args=[new])).status_code == 200


CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.mark.parametrize(("agent", "headers", "expected"), [
    ("Apache-HttpClient/4.5.13 (Java/17.0.2)", {}, FeedFetch.Client.PROGRAM),
    ("curl/8.5.0", {}, FeedFetch.Client.PROGRAM),
    ("", {}, FeedFetch.Client.PROGRAM),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", {}, FeedFetch.Client.PROGRAM),
    (CHROME, {}, FeedFetch.Client.BROWSER),
    (FIREFOX, {}, FeedFetch.Client.BROWSER),
    ("SomeBrowser/1.0", {"Sec-Fetch-Mode": "navigate"}, FeedFetch.Client.BROWSER),
])
def test_it_tells_a_program_from_a_browser(client, published, url, agent, headers, expected):
    body(client.get(url, headers={"User-Agent": agent, **headers}))
    assert FeedFetch.objects.get().client == expected


def test_a_signed_in_user_checking_the_url_is_not_kaspi(admin_client, published, url):
    body(admin_client.get(url, headers={"User-Agent": "curl/8.5.0"}))
    assert FeedFetch.objects.get().client == FeedFetch.Client.SIGNED_IN
    assert not FeedFetch.objects.by_kaspi().exists()


def test_it_logs_the_address_the_proxy_saw(client, published, url, settings):
    settings.PROXY_COUNT = 1
    body(client.get(url, headers={"X-Forwarded-For": "203.0.113.9"}, REMOTE_ADDR="10.0.0.1"))
    assert FeedFetch.objects.get().client_ip == "203.0.113.9"
