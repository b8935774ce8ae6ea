"""The Russian translation is complete and compiled, every admin page reads Russian with data on it,
English is one click away, and money reads `12 990 ₸`.

These tests run in Russian (`russian` marker); the rest of the suite runs in English (conftest).
"""

import gettext
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field

import lxml.html
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from catalog.models import City, PricingRule
from catalog.services import product_set_price, products_reprice
from common.format import seconds, tenge
from feeds.models import FeedFetch
from feeds.services import feed_build
from jobs.models import JobRun
from jobs.schedules import schedules_upsert
from monitoring.alerts import alerts_check
from orders.changes import status_change_request
from orders.models import KaspiStatus, Order, OrderEntry, StatusChange

pytestmark = pytest.mark.russian

LC_MESSAGES = settings.BASE_DIR / "locale" / "ru" / "LC_MESSAGES"
PO, MO = LC_MESSAGES / "django.po", LC_MESSAGES / "django.mo"
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[sdfr%]")


# --- the catalogue ------------------------------------------------------------------------------
@dataclass
class Entry:
    context: str | None = None
    msgid: str | None = None
    plural: str | None = None
    strs: dict = field(default_factory=dict)  # msgstr index → text (0 for a singular entry)
    flags: set = field(default_factory=set)


def po_entries(path=PO):
    """Every entry of a .po file, the header (msgid "") first; obsolete (#~) entries are left out."""
    entries, entry, current = [], Entry(), None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if entry.msgid is not None:
                entries.append(entry)
            entry, current = Entry(), None
        elif line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            _append(entry, current, _unquote(line))
        else:
            keyword, value = line.split(" ", 1)
            current = keyword
            _append(entry, current, _unquote(value), start=True)
    return entries


def _append(entry, keyword, text, start=False):
    index = re.fullmatch(r"msgstr(?:\[(\d)\])?", keyword)
    if index:
        number = int(index.group(1) or 0)
        entry.strs[number] = ("" if start else entry.strs[number]) + text
    else:
        name = {"msgctxt": "context", "msgid": "msgid", "msgid_plural": "plural"}[keyword]
        setattr(entry, name, ("" if start else getattr(entry, name)) + text)


def _unquote(quoted):
    assert quoted.startswith('"') and quoted.endswith('"'), quoted
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), quoted[1:-1])


def messages():
    return po_entries()[1:]


def test_the_catalogue_has_a_header_with_the_three_russian_plural_forms():
    header = po_entries()[0]
    assert header.msgid == "" and "fuzzy" not in header.flags
    assert "Language: ru\n" in header.strs[0]
    assert "Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : " in header.strs[0]


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = messages()
    assert len(entries) > 300
    assert [entry.msgid for entry in entries if "fuzzy" in entry.flags] == []
    assert [entry.msgid for entry in entries if not entry.strs or not all(entry.strs.values())] == []
    assert [entry.msgid for entry in entries if entry.plural and sorted(entry.strs) != [0, 1, 2]] == []


def test_every_translation_keeps_the_placeholders_of_its_message():
    for entry in messages():
        for text in entry.strs.values():
            assert Counter(PLACEHOLDER.findall(text)) == Counter(PLACEHOLDER.findall(entry.plural or entry.msgid)), (
                entry.msgid, text
            )


def test_msgfmt_accepts_the_catalogue():
    if not shutil.which("msgfmt"):
        pytest.skip("GNU gettext's msgfmt is not installed here; the parsing tests above still check the .po")
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr


def test_the_committed_mo_is_compiled_from_the_po():
    """CI machines may lack gettext, so the .mo is committed: it must say exactly what the .po says."""
    with MO.open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    expected = {}
    for entry in messages():
        key = f"{entry.context}\x04{entry.msgid}" if entry.context else entry.msgid
        if entry.plural:
            expected.update({(key, n): text for n, text in entry.strs.items()})
        else:
            expected[key] = entry.strs[0]
    # The compiled catalogue as gettext reads it, the header ("") aside.
    assert {key: text for key, text in catalog._catalog.items() if key != ""} == expected
    assert catalog.ngettext("%d product hidden.", "%d products hidden.", 21) == "%d товар скрыт."
    assert catalog.ngettext("%d product hidden.", "%d products hidden.", 3) == "%d товара скрыты."
    assert catalog.ngettext("%d product hidden.", "%d products hidden.", 11) == "%d товаров скрыто."


# --- every admin page, in Russian ---------------------------------------------------------------
@pytest.fixture
def shop(db, admin_user, store, make_product):
    """A little of everything, written through the services where they exist (so stored texts are Russian)."""
    product = make_product(brand="Acme", category=1, purchase_price=10000, retail_price=13990, price=12990)
    make_product(purchase_price=1, price=None)  # price on request
    PricingRule.objects.create(name="Общая наценка", markup_percent=20, min_purchase_price=1000,
                               max_purchase_price=500000)
    products_reprice(user=admin_user)
    product_set_price(product=product, price=12990, user=admin_user)
    product.proposed_price = 15990
    product.save()
    City.objects.create(city_id="750000000", name="Алматы", price_adjust_percent=5)
    JobRun.objects.create(kind="refresh_stock", outcome=JobRun.Outcome.FAILED, error="HTTP 500",
                           finished=timezone.now())
    run = feed_build()
    FeedFetch.objects.create(client_ip="10.0.0.1", user_agent="Kaspi", status=200, bytes=run.bytes, run=run)
    older = _order("1001", status=KaspiStatus.COMPLETED)
    _order("1003", status=KaspiStatus.CANCELLED, cancellation_reason="BUYER_NOT_REACHABLE")
    StatusChange.objects.create(order=older, action=StatusChange.Action.COMPLETE, state=StatusChange.State.FAILED,
                                message="HTTP 400: Security code is not valid", finished_at=timezone.now())
    order = _order("1002", status=KaspiStatus.APPROVED_BY_BANK)
    OrderEntry.objects.create(order=order, entry_number=1, sku=product.sku, name=product.name, product=product,
                              quantity=1, unit_price=12000, total_price=12000)
    status_change_request(order=order, action=StatusChange.Action.ACCEPT, user=admin_user)
    alerts_check()
    assert Group.objects.filter(name="Менеджеры").exists()  # the roles come with the migrations
    schedules_upsert()
    return order


def _order(code, **fields):
    return Order.objects.create(kaspi_id=f"k{code}", code=code, state="NEW", created_at_kaspi=timezone.now(),
                                total_price=12990, delivery_cost=990, entries_loaded=True,
                                customer_name="Айгерим", payment_mode="PREPAID", delivery_mode="DELIVERY_PICKUP",
                                **fields)


def admin_pages(user, order):
    """The dashboard, every registered model's list and add page, a change page for each model with
    a row, and the order page with its status panel."""
    request = RequestFactory().get("/admin/")
    request.user = user
    pages = [reverse("admin:index"), reverse("admin:orders_order_change", args=[order.pk])]
    for model in apps.get_models():
        if not admin.site.is_registered(model):
            continue
        model_admin = admin.site.get_model_admin(model)
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(request):
            pages.append(reverse(f"{name}_add"))
        row = model._default_manager.first()
        if row is not None:
            pages.append(reverse(f"{name}_change", args=[row.pk]))
    return pages


def visible_texts(html):
    """The page's text nodes and the attributes people read, white space folded.

    Left out: the language switch, which names each language in that language (English in
    English).
    """
    tree = lxml.html.document_fromstring(html)
    left_out = "//*[@id='language-switch']"
    for node in tree.xpath(f"//script | //style | {left_out}"):
        node.drop_tree()
    texts = tree.xpath(
        "//text() | //@title | //@placeholder | //@aria-label | //input[@type='submit' or @type='button']/@value"
    )
    return {" ".join(text.split()) for text in texts if text.strip()}


def english_leftovers(texts, entries):
    """The texts that are one of our messages in English (whole), or contain a longer one."""
    found = []
    for entry in entries:
        for source in filter(None, (entry.msgid, entry.plural)):
            if source in entry.strs.values() or len(source) <= 3:
                continue  # "SKU", "Kaspi", "OK": the same in both languages
            found += [text for text in texts if _matches(source, text)]
    return sorted(set(found))


def _matches(source, text):
    if text.casefold().rstrip(":") == source.casefold():
        return True
    literal = PLACEHOLDER.split(source)
    if len(literal) == 1:  # no placeholder: a sentence inside a longer text
        return len(source.split()) >= 3 and source in text
    if len(re.findall(r"[A-Za-z]{2,}", " ".join(literal))) < 2:
        return False  # "%(action)s approved" would match a schedule's name: too little English to tell
    return re.search(".+?".join(re.escape(part) for part in literal), text) is not None


def test_every_admin_page_reads_russian_with_data_on_it(admin_client, admin_user, shop):
    entries = messages()
    pages = admin_pages(admin_user, shop)
    assert len(pages) > 30
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert '<html lang="ru"' in html, url
        assert english_leftovers(visible_texts(html), entries) == [], url


def test_the_order_page_shows_its_status_panel_and_history_in_russian(admin_client, shop):
    html = admin_client.get(reverse("admin:orders_order_change", args=[shop.pk])).content.decode()
    texts = visible_texts(html)
    assert {"Статус в Kaspi", "Одобрить и отправить", "Отклонить", "Запросить смену статуса"} <= texts
    assert "Запрошено: принять заказ" in texts  # the order's history, written in Russian
    assert "12 990 ₸" in texts and "990 ₸" in texts and "12 000 ₸" in texts


def test_the_checker_would_notice_an_english_text():
    entries = messages()
    texts = {"Latest failures", "Name:", "3 prices changed; 1 await confirmation.", "Заказы", "SKU"}
    assert english_leftovers(texts, entries) == [
        "3 prices changed; 1 await confirmation.", "Latest failures", "Name:",
    ]


# --- English, one click away --------------------------------------------------------------------
def test_english_is_there_for_whoever_asks(admin_client, shop):
    url = reverse("admin:orders_order_changelist")
    assert "Запросить: принять заказ" in admin_client.get(url).content.decode()
    english = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in english and "Request: accept" in english


def test_the_header_switch_sets_the_language(admin_client, shop):
    url = reverse("admin:orders_order_changelist")
    page = admin_client.get(url).content.decode()
    switch = lxml.html.document_fromstring(page).get_element_by_id("language-switch")
    assert switch.get("action") == reverse("set_language")
    assert [(button.get("value"), button.text) for button in switch.xpath(".//button")] == [("en", "English")]

    response = admin_client.post(reverse("set_language"), {"language": "en", "next": url})
    assert (response.status_code, response["Location"]) == (302, url)
    english = admin_client.get(url).content.decode()
    assert '<html lang="en"' in english and "Request: accept" in english and "Запросить" not in english

    admin_client.post(reverse("set_language"), {"language": "ru", "next": url})
    assert "Запросить: принять заказ" in admin_client.get(url).content.decode()


# --- money --------------------------------------------------------------------------------------
def test_money_reads_whole_tenge_in_groups_that_never_break():
    assert tenge(12990).replace("\u00a0", " ") == "12 990 ₸"
    assert tenge(12990) == "12\u00a0990\u00a0₸"  # no-break spaces: an amount never wraps
    amounts = [tenge(amount) for amount in (0, 990, 1234567, None)]
    assert amounts == ["0\u00a0₸", "990\u00a0₸", "1\u00a0234\u00a0567\u00a0₸", "—"]


def test_durations_read_in_the_readers_language():
    assert seconds(1.54) == "1,5 с"


@pytest.mark.parametrize("page, amounts", [
    ("admin:catalog_product_changelist", ["10 000 ₸", "15 990 ₸"]),  # purchase, awaiting confirmation
    ("admin:catalog_pricechange_changelist", ["12 990 ₸"]),
    ("admin:catalog_pricingrule_changelist", ["1 000 ₸", "500 000 ₸"]),
    ("admin:orders_order_changelist", ["12 990 ₸"]),
    ("admin:index", ["Выручка по дням за последние 30 дней: 25 980 ₸"]),
])
def test_admin_lists_show_money_as_tenge(admin_client, shop, page, amounts):
    texts = {text.replace("\u00a0", " ") for text in visible_texts(admin_client.get(reverse(page)).content.decode())}
    for amount in amounts:
        assert amount in texts, (page, amount)

