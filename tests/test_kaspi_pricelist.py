"""A shop moving here keeps the SKUs it sells under at Kaspi: its price list is matched to products."""

import base64
import io
import ipaddress
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from xml.sax.saxutils import escape, quoteattr

import pytest
import responses
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from lxml import etree

from catalog import kaspi_pricelist
from catalog.kaspi_pricelist import (
    PriceListError,
    listed_offer_link,
    match_counts,
    pricelist_apply,
    pricelist_import,
    pricelist_open,
)
from catalog.models import ListedOffer, PriceListImport, Product
from feeds.services import feed_build
from feeds.validation import SCHEMA_PATH
from orders.models import OrderEntry
from orders.sync import order_import_by_code
from tests.test_feed_build import NS, published_feed

SKU = "123456789_987654321"


def offer_xml(sku, model, *, barcode=None, price="9990"):
    extra = f"<barcode>{barcode}</barcode>" if barcode else ""
    return (f"<offer sku={quoteattr(sku)}><model>{escape(model)}</model><brand>Brand</brand>{extra}"
            '<availabilities><availability available="yes" storeId="PP1" stockCount="2"/></availabilities>'
            f"<price>{price}</price></offer>")


def pricelist(*offers, namespace=True):
    xmlns = ' xmlns="kaspiShopping"' if namespace else ""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<kaspi_catalog date="2026-11-29T10:00:00"{xmlns}>'
            "<company>Shop</company><merchantid>12345</merchantid><offers>"
            + "".join(offers) + "</offers></kaspi_catalog>").encode()


def run_import(data, **kwargs):
    return pricelist_import(file=io.BytesIO(data), source="price.xml", **kwargs)


def kaspi_sku(product):
    product.refresh_from_db()
    return product.kaspi_sku


@pytest.fixture
def shop(make_product):
    """Twenty offers of a shop's price list and the catalogue they are matched against.

    `expected` maps each offer's SKU to (the product it must match, how); the last four match nothing.
    """
    by_sku = [make_product(sku="60001", name="Наушники JBL Tune 510BT", kaspi_sku="100000001_200000001"),
              make_product(sku="60002", name="Роутер TP-Link Archer C6")]
    part_numbers = ["910-002238", "CF217A", "MX 518", "SM-A155F", "B0CX1234", "KB216-RU"]
    by_part_number = [make_product(article_pn=pn) for pn in part_numbers]
    by_barcode = [make_product(barcode="4600000000017"), make_product(barcode="4600000000024")]
    names = ["Колонка Xiaomi Mi Portable Speaker, 16W", "Чёрный чехол для iPhone 15", "Power bank Anker 10000 mAh",
             "Клавиатура Defender Element HB-190", "Монитор 27\" Samsung S27C390", "Флешка Kingston DataTraveler 64GB"]
    by_name = [make_product(name=name) for name in names]
    make_product(name="Кабель USB-C 1 м")
    make_product(name="Кабель USB-C 1 м")
    models = [
        "Мышь Logitech M185 910-002238 серая", "Картридж HP 17A (CF217A) черный", "Мышь Logitech MX 518 Legendary",
        "Смартфон Samsung Galaxy A15 SM-A155F 128 ГБ", "Товар b0cx1234", "Клавиатура Defender",
    ]
    offers = [offer_xml("100000001_200000001", "JBL Tune 510BT наушники"), offer_xml("60002", "Archer C6 v3")]
    offers += [offer_xml(f"12345678{9 - i}_98765432{1 + i}", model) for i, model in enumerate(models)]
    offers[-1] = offer_xml("KB216RU", models[-1])  # the old SKU of this one is its part number
    offers += [offer_xml(f"22222222{i}_11111111{i}", f"Товар со штрихкодом {i}", barcode=product.barcode)
               for i, product in enumerate(by_barcode)]
    spelled = ["колонка  xiaomi mi portable speaker 16w", "Черный чехол для iPhone 15!", "POWER BANK ANKER 10000 MAH",
               "Клавиатура Defender Element HB 190", "Монитор 27 Samsung S27C390", "ФЛЕШКА Kingston DataTraveler, 64GB"]
    offers += [offer_xml(f"33333333{i}_44444444{i}", model) for i, model in enumerate(spelled)]
    offers += [offer_xml("900000001_900000001", "Неизвестный товар"),
               offer_xml("900000002_900000002", "Кабель USB-C 1 м"),
               offer_xml("900000003_900000003", "Роутер TP-Link Archer C6"),  # its product went by SKU already
               offer_xml("900000004_900000004", "Сетевой фильтр 5 розеток")]
    skus = re.findall(r'sku="([^"]+)"', "".join(offers))
    assert len(offers) == 20 and len(set(skus)) == 20
    how = ["sku"] * 2 + ["part_number"] * 6 + ["barcode"] * 2 + ["name"] * 6
    expected = dict(zip(skus, zip(by_sku + by_part_number + by_barcode + by_name, how)))
    return pricelist(*offers), expected


def test_it_keeps_the_shops_skus_in_the_feed_and_links_orders_by_them(shop, store, sandbox):
    data, expected = shop

    price_list = run_import(data)

    assert (price_list.offers, price_list.matched, price_list.applied, price_list.unmatched) == (20, 16, 16, 4)
    assert not price_list.dry_run and price_list.refused == 0
    assert match_counts(price_list) == {"by SKU": 2, "by part number": 6, "by barcode": 2, "by name": 6, "by hand": 0}
    listed = {offer.sku: offer for offer in price_list.listed_offers.all()}
    for sku, (product, how) in expected.items():
        assert (listed[sku].product, listed[sku].match, listed[sku].applied) == (product, how, True), sku
        assert kaspi_sku(product) == sku
    unmatched = {offer.sku: offer.note for offer in price_list.listed_offers.filter(product=None)}
    assert unmatched == {
        "900000001_900000001": "no product fits",
        "900000002_900000002": "by name, it fits 2 products",
        "900000003_900000003": "no product fits",
        "900000004_900000004": "no product fits",
    }

    feed_build()
    published = {offer.get("sku") for offer in published_feed().iterfind("k:offers/k:offer", NS)}
    assert set(expected) <= published
    assert not {product.sku for product, _how in expected.values()} - {"60002"} & published

    kaspi = sandbox.state.add_order(entries=[(SKU, 1, 5000)])
    order = order_import_by_code(code=kaspi["attributes"]["code"])
    assert order.entries.get().product == expected[SKU][0]


def test_order_lines_stored_before_their_sku_was_kept_link_to_its_product(shop, store, sandbox, make_product):
    data, expected = shop
    unmatched = "900000001_900000001"
    kaspi = sandbox.state.add_order(entries=[(SKU, 2, 5000), (unmatched, 1, 3000)])
    order = order_import_by_code(code=kaspi["attributes"]["code"])
    assert set(order.entries.values_list("product", "unit_cost")) == {(None, None)}

    price_list = pricelist_apply(price_list=run_import(data, dry_run=True))

    product = expected[SKU][0]
    line = order.entries.get(sku=SKU)
    assert (line.product, line.unit_cost) == (product, product.cost)
    chosen = make_product(purchase_price=4000, discount_price=3500)
    listed_offer_link(offer=price_list.listed_offers.get(sku=unmatched), product=chosen)
    assert (order.entries.get(sku=unmatched).product, order.entries.get(sku=unmatched).unit_cost) == (chosen, 3500)
    assert OrderEntry.objects.filter(product=None).count() == 0


def test_a_dry_run_changes_no_product_and_applying_it_does(shop):
    data, expected = shop

    preview = run_import(data, dry_run=True)

    assert preview.dry_run and (preview.matched, preview.applied, preview.unmatched) == (16, 0, 4)
    assert list(Product.objects.exclude(kaspi_sku=None).values_list("kaspi_sku", flat=True)) == ["100000001_200000001"]
    assert not preview.listed_offers.filter(applied=True).exists()

    applied = pricelist_apply(price_list=preview)

    assert not applied.dry_run and applied.applied == 16
    assert all(kaspi_sku(product) == sku for sku, (product, _how) in expected.items())
    with pytest.raises(PriceListError, match="applied already"):
        pricelist_apply(price_list=applied)


def test_a_kept_sku_is_never_overwritten(make_product):
    product = make_product(name="Мышь Logitech M185", kaspi_sku="111_222")

    price_list = run_import(pricelist(offer_xml("333_444", "Мышь Logitech M185")))

    offer = price_list.listed_offers.get()
    assert (offer.product, offer.applied, price_list.refused) == (product, False, 1)
    assert "already sells under SKU 111_222" in offer.note
    assert kaspi_sku(product) == "111_222"


def test_the_feed_never_gets_a_sku_twice(make_product, store):
    first, second = make_product(name="Чехол красный"), make_product(name="Чехол синий")

    price_list = run_import(pricelist(offer_xml("555_666", "Чехол красный"), offer_xml("555_666", "Чехол синий")))

    assert (kaspi_sku(first), kaspi_sku(second)) == ("555_666", None)
    refused = price_list.listed_offers.get(product=second)
    assert refused.note == "another product is published under this SKU already"
    feed_build()
    skus = [offer.get("sku") for offer in published_feed().iterfind("k:offers/k:offer", NS)]
    assert sorted(skus) == sorted(["555_666", second.sku])


def test_a_link_by_hand_refuses_a_sku_another_product_publishes(make_product):
    price_list = run_import(pricelist(offer_xml("ABC1", "Что-то без пары")))
    offer = price_list.listed_offers.get()
    make_product(sku="ABC1")  # the supplier's next sync brought a product under that SKU
    chosen = make_product()

    offer = listed_offer_link(offer=offer, product=chosen)

    assert (offer.match, offer.applied) == ("manual", False)
    assert offer.note == "another product is published under this SKU already"
    assert kaspi_sku(chosen) is None


def test_a_product_two_offers_fit_goes_to_neither(make_product):
    product = make_product(article_pn="CF217A")

    price_list = run_import(pricelist(offer_xml("1_1", "Картридж CF217A"), offer_xml("1_2", "Тонер для CF217A")))

    notes = set(price_list.listed_offers.values_list("note", flat=True))
    assert notes == {"by part number, 2 offers fit the same product"} and kaspi_sku(product) is None


def test_a_link_made_by_hand_on_a_dry_run_is_kept_when_it_is_applied(make_product):
    product = make_product(name="Кабель Lightning Apple 1 м")
    preview = run_import(pricelist(offer_xml("700_1", "Кабель для айфона")), dry_run=True)

    listed_offer_link(offer=preview.listed_offers.get(), product=product)
    assert kaspi_sku(product) is None

    applied = pricelist_apply(price_list=preview)
    assert (applied.applied, match_counts(applied)["by hand"], kaspi_sku(product)) == (1, 1, "700_1")


def test_it_refuses_a_sku_the_feed_cannot_publish(make_product):
    product = make_product(name="Сумка для ноутбука")

    offer = run_import(pricelist(offer_xml("сумка/1", "Сумка для ноутбука"))).listed_offers.get()

    assert (offer.product, offer.applied) == (product, False) and "not a SKU the feed can publish" in offer.note
    assert kaspi_sku(product) is None


def test_it_checks_skus_as_the_schema_does():
    pattern = etree.parse(str(SCHEMA_PATH)).find(
        ".//{http://www.w3.org/2001/XMLSchema}simpleType[@name='Sku']//{http://www.w3.org/2001/XMLSchema}pattern")
    assert pattern.get("value") == kaspi_pricelist.KASPI_SKU.pattern


def test_it_reads_a_price_list_without_namespace_and_with_city_prices(make_product):
    product = make_product(name="Фен Dyson")
    city = offer_xml("777_1", "Фен Dyson").replace(
        "<price>9990</price>", '<cityprices><cityprice cityId="750000000">199990</cityprice></cityprices>')

    offer = run_import(pricelist(city, namespace=False)).listed_offers.get()

    assert (offer.sku, offer.model, offer.brand, offer.price, offer.product) == ("777_1", "Фен Dyson", "Brand", 199990,
                                                                                 product)


@pytest.mark.parametrize("data, complaint", [
    (pricelist(offer_xml("1_2", "Tom & Jerry")).replace(b"&amp;", b"&"), "not well-formed"),
    (pricelist(offer_xml("1_2", "Колонка"))[:-30], "not well-formed"),
    (b"", "not well-formed"),
    (b"<html><body>Not found</body></html>", "holds no offers"),
    (b'<?xml version="1.0"?><!DOCTYPE k [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b'<kaspi_catalog><offers><offer sku="&x;"><model>A</model></offer></offers></kaspi_catalog>', "external entity"),
], ids=["bare-ampersand", "truncated", "empty", "not-a-price-list", "external-entity-in-attribute"])
def test_a_malformed_file_changes_nothing(make_product, data, complaint):
    product = make_product(name="Колонка")

    with pytest.raises(PriceListError, match=complaint):
        run_import(data)

    assert not PriceListImport.objects.exists() and kaspi_sku(product) is None


def test_it_never_expands_an_entity(db, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    data = (f'<?xml version="1.0"?><!DOCTYPE k [<!ENTITY x SYSTEM "file://{secret}"><!ENTITY y "big">]>'
            '<kaspi_catalog><offers><offer sku="1_1"><model>&x;&y;</model></offer></offers></kaspi_catalog>')

    offer = run_import(data.encode()).listed_offers.get()

    assert "root" not in offer.model and "big" not in offer.model


def test_it_refuses_a_file_over_the_limit(db, monkeypatch):
    monkeypatch.setattr(kaspi_pricelist, "MAX_BYTES", 100)
    with pytest.raises(PriceListError, match="larger than"):
        run_import(pricelist(*[offer_xml(f"{i}_1", "Колонка") for i in range(5)]))


def test_it_refuses_a_list_of_too_many_offers(db, monkeypatch):
    monkeypatch.setattr(kaspi_pricelist, "MAX_OFFERS", 2)
    with pytest.raises(PriceListError, match="more than 2 offers"):
        run_import(pricelist(*[offer_xml(f"{i}_1", "Колонка") for i in range(3)]))


@pytest.fixture
def dns(monkeypatch):
    """A resolver that answers names from `dns.answers` and records what it is asked; no test asks real DNS."""
    fake = SimpleNamespace(answers={"shop.example": ["93.184.215.14"]}, asked=[])
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        fake.asked.append(host)
        if host in fake.answers:
            return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                     (address, port)) for address in fake.answers[host]]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, port, *args, **kwargs)  # an address written out: no lookup

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return fake


@responses.activate
def test_it_downloads_a_price_list_through_the_http_seam(make_product, settings, dns):
    product = make_product(name="Колонка")
    responses.get("https://shop.example/kaspi.xml", body=pricelist(offer_xml("5_5", "Колонка")))

    source, file = pricelist_open("https://shop.example/kaspi.xml?token=secret")
    with file:
        price_list = pricelist_import(file=file, source=source)

    assert source == "https://shop.example/kaspi.xml" and kaspi_sku(product) == "5_5"
    assert responses.calls[0].request.headers["User-Agent"] == settings.HTTP_USER_AGENT
    assert price_list.source == source


@responses.activate
@pytest.mark.parametrize("answer, complaint", [
    ({"status": 404}, "HTTP 404"),
    ({"body": b"x", "headers": {"Content-Length": str(200 << 20)}}, "larger than"),
])
def test_a_price_list_that_cannot_be_downloaded_is_an_error(db, dns, answer, complaint):
    responses.get("https://shop.example/kaspi.xml", **answer)
    with pytest.raises(PriceListError, match=complaint):
        pricelist_open("https://shop.example/kaspi.xml")


@responses.activate
@pytest.mark.parametrize("url, addresses", [
    ("http://127.0.0.1:8000/kaspi.xml", None),
    ("http://169.254.169.254/latest/meta-data/", None),  # the cloud's metadata service
    ("http://[::1]/kaspi.xml", None),
    ("http://[::ffff:7f00:1]/kaspi.xml", None),  # 127.0.0.1 written as IPv6
    ("https://shop.example/kaspi.xml", ["10.0.0.5"]),
    ("https://shop.example/kaspi.xml", ["192.168.1.10"]),
    ("https://shop.example/kaspi.xml", ["100.100.100.200"]),  # Alibaba Cloud's metadata service
    ("https://shop.example/kaspi.xml", ["0.0.0.0"]),
    ("https://shop.example/kaspi.xml", ["224.0.0.1"]),
    ("https://shop.example/kaspi.xml", ["240.0.0.1"]),
    ("https://shop.example/kaspi.xml", ["fd00:ec2::254"]),  # AWS's metadata service over IPv6
    ("https://shop.example/kaspi.xml", ["fe80::1"]),
    ("https://shop.example/kaspi.xml", ["93.184.215.14", "10.0.0.5"]),  # any one of its addresses
], ids=["loopback", "metadata", "loopback-v6", "v4-mapped", "private-10", "private-192", "shared-100-64",
        "unspecified", "multicast", "reserved", "unique-local-v6", "link-local-v6", "one-of-two"])
def test_it_downloads_from_internet_addresses_only(dns, url, addresses):
    if addresses:
        dns.answers["shop.example"] = addresses
    responses.get(re.compile(".*"), body=pricelist(offer_xml("5_5", "Колонка")))

    with pytest.raises(PriceListError, match="is not an internet address"):
        pricelist_open(url)

    assert not responses.calls


@responses.activate
def test_it_follows_no_redirect_and_says_where_it_leads(dns):
    responses.get("https://shop.example/kaspi.xml", status=302,
                  headers={"Location": "http://169.254.169.254/latest/meta-data/iam"})
    responses.get("http://169.254.169.254/latest/meta-data/iam", body="the role's keys")

    with pytest.raises(PriceListError, match=r"HTTP 302: the price list has moved to "
                                             r"http://169\.254\.169\.254/latest/meta-data/iam; give that address"):
        pricelist_open("https://shop.example/kaspi.xml")

    assert len(responses.calls) == 1


@pytest.fixture
def local_server():
    """An HTTP server on 127.0.0.1 that answers every GET with a price list and records the Host asked for."""
    hosts = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hosts.append(self.headers["Host"])
            body = pricelist(offer_xml("5_5", "Колонка"))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(port=server.server_port, hosts=hosts)
    server.shutdown()
    server.server_close()


def test_it_connects_to_the_address_it_checked(dns, local_server, monkeypatch):
    monkeypatch.setattr(kaspi_pricelist, "is_public_address", lambda address: address.is_loopback)  # its server
    dns.answers["shop.example"] = ["127.0.0.1"]

    source, file = pricelist_open(f"http://shop.example:{local_server.port}/kaspi.xml")

    with file:
        assert b'sku="5_5"' in file.read()
    assert dns.asked.count("shop.example") == 1  # never asked again, so a second answer cannot lead elsewhere
    assert local_server.hosts == [f"shop.example:{local_server.port}"]


def test_an_unreadable_file_is_an_error(tmp_path):
    with pytest.raises(PriceListError, match="cannot read"):
        pricelist_open(str(tmp_path / "nowhere.xml"))


# --- the command ----------------------------------------------------------------------------------


def test_the_command_reports_matches_and_lists_unmatched_offers(shop, tmp_path):
    data, expected = shop
    path = tmp_path / "price.xml"
    path.write_bytes(data)
    out = io.StringIO()

    call_command("import_kaspi_pricelist", str(path), "--dry-run", stdout=out)

    assert Product.objects.exclude(kaspi_sku=None).count() == 1
    text = out.getvalue()
    assert "20 offers: 16 matched (by SKU 2, by part number 6, by barcode 2, by name 6, by hand 0)" in text
    assert "dry run" in text and "Unmatched:" in text
    assert "900000002_900000002  Кабель USB-C 1 м: by name, it fits 2 products" in text

    call_command("import_kaspi_pricelist", str(path), stdout=io.StringIO())
    assert all(kaspi_sku(product) == sku for sku, (product, _how) in expected.items())


def test_the_command_fails_on_an_unreadable_file(db, tmp_path):
    (tmp_path / "bad.xml").write_text("<kaspi_catalog><offers><offer sku='1'>")
    with pytest.raises(CommandError, match="not well-formed"):
        call_command("import_kaspi_pricelist", str(tmp_path / "bad.xml"))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_kaspi_pricelist", str(tmp_path / "nowhere.xml"))


# --- the admin ------------------------------------------------------------------------------------


def upload(client, data):
    return client.post(reverse("admin:catalog_pricelistimport_add"),
                       {"file": SimpleUploadedFile("price.xml", data, content_type="text/xml")})


def test_the_admin_previews_an_upload_and_applies_it(admin_client, shop):
    data, expected = shop
    assert admin_client.get(reverse("admin:catalog_pricelistimport_add")).status_code == 200

    response = upload(admin_client, data)

    price_list = PriceListImport.objects.get()
    assert response.url == reverse("admin:catalog_pricelistimport_change", args=[price_list.pk])
    assert price_list.dry_run and Product.objects.exclude(kaspi_sku=None).count() == 1
    page = admin_client.get(response.url)
    assert b'id="pricelist-apply"' in page.content and "by part number: 6" in page.content.decode()

    admin_client.post(reverse("admin:catalog_pricelistimport_apply", args=[price_list.pk]))

    assert all(kaspi_sku(product) == sku for sku, (product, _how) in expected.items())
    assert b'id="pricelist-apply"' not in admin_client.get(response.url).content
    unmatched = admin_client.get(reverse("admin:catalog_listedoffer_changelist"),
                                 {"price_list__id__exact": price_list.pk, "status": "unmatched"})
    listed = sorted(offer.sku for offer in unmatched.context["cl"].result_list)
    assert listed == [f"90000000{i}_90000000{i}" for i in (1, 2, 3, 4)]


@responses.activate
def test_the_admin_sends_the_urls_password_but_never_shows_or_stores_it(admin_client, dns):
    url, given = "https://shop.example/kaspi.xml", "https://manager:pa55word@shop.example/kaspi.xml"
    responses.get(given, status=404)
    add = reverse("admin:catalog_pricelistimport_add")

    response = admin_client.post(add, {"url": given + "?token=t0ken"})

    assert response.context["form"].non_field_errors() == [
        "cannot download the price list: GET https://shop.example/kaspi.xml: HTTP 404"]
    sent = responses.calls[0].request.headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(b"manager:pa55word").decode()  # the price list may need it
    responses.replace(responses.GET, given, body=pricelist(offer_xml("5_5", "Колонка")))
    admin_client.post(add, {"url": given})
    assert PriceListImport.objects.get().source == url


def test_the_admin_shows_a_bad_file_on_the_form(admin_client, db):
    response = upload(admin_client, b"<kaspi_catalog><offers>")
    assert response.status_code == 200 and "not well-formed" in response.content.decode()
    assert not PriceListImport.objects.exists()


def test_a_manager_links_an_unmatched_offer_by_hand_or_leaves_it_out(admin_client, make_product):
    cable = make_product(name="Кабель Lightning Apple 1 м")
    price_list = run_import(pricelist(offer_xml("700_1", "Кабель для айфона"), offer_xml("700_2", "Неизвестно что")))
    first, second = price_list.listed_offers.order_by("sku")
    url = reverse("admin:catalog_listedoffer_change", args=[first.pk])
    assert admin_client.get(url).status_code == 200

    admin_client.post(url, {"product": cable.pk, "_save": "Save"})

    first.refresh_from_db()
    assert (first.product, first.match, first.applied, kaspi_sku(cable)) == (cable, "manual", True, "700_1")
    page = admin_client.get(url)
    assert "product" not in page.context["adminform"].form.fields  # a kept SKU never moves
    admin_client.post(reverse("admin:catalog_listedoffer_changelist"),
                      {"action": "leave_out", "_selected_action": [first.pk, second.pk]})
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.left_out and not first.left_out
    price_list.refresh_from_db()
    assert (price_list.matched, price_list.unmatched, price_list.applied) == (1, 0, 1)


def test_the_product_page_shows_the_kept_sku_read_only(admin_client, make_product):
    product = make_product(kaspi_sku=SKU)
    page = admin_client.get(reverse("admin:catalog_product_change", args=[product.pk]))
    assert "kaspi_sku" not in page.context["adminform"].form.fields and SKU in page.content.decode()


def test_applying_needs_the_right_to_change_products(client, db):
    price_list = run_import(pricelist(offer_xml("800_1", "Колонка")), dry_run=True)
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_pricelistimport"))
    client.force_login(user)

    assert client.get(reverse("admin:catalog_pricelistimport_add")).status_code == 403
    assert client.post(reverse("admin:catalog_pricelistimport_apply", args=[price_list.pk])).status_code == 403
    assert PriceListImport.objects.get().dry_run

    user.user_permissions.add(Permission.objects.get(codename="change_product"))
    client.force_login(User.objects.get(pk=user.pk))
    client.post(reverse("admin:catalog_pricelistimport_apply", args=[price_list.pk]))
    assert not PriceListImport.objects.get().dry_run
    assert ListedOffer.objects.get().note == "no product fits"
