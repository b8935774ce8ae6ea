"""Russian that reads right: a model's name in the case its phrase needs, a number's noun in the form
the number needs (1 товар, 2 товара, 5 товаров, 21 товар), and no code of Kaspi's or Al-Style's shown
to people as it is.

The catalogue checks read every message of locale/ru; the page checks render every admin page with
data on it (the fixture of test_translation).
"""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import translation

from catalog.models import Category, PricingRule, Product
from kaspiconnect.nouns import NOUNS, accusative, counted
from tests.test_translation import admin_pages, messages, shop, visible_texts  # noqa: F401 (shop: a fixture)

pytestmark = pytest.mark.russian

NUMBER = r"%(?:\(\w+\))?d|%\((?:count|n|total|\w*count|offers|products|units|days)\)s|\{count\}"
# After a number, a Russian word may stand unagreed only as an abbreviation or a unit.
UNITS = {"шт.", "дн.", "мин.", "ч.", "с", "мс", "МБ", "КБ", "₸", "%", "x", "×"}
NOT_NOUNS = {"до", "не", "и", "из", "в", "на", "по", "или", "а", "нечего", "меньше", "больше"}


def russian_form(n):
    """The index of the Russian plural form for n, as the catalogue's header defines it."""
    return 0 if n % 10 == 1 and n % 100 != 11 else 1 if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else 2


# --- the catalogue ------------------------------------------------------------------------------
def _word_after_number(text):
    """The words that follow a number placeholder in a message, if any."""
    return [m.group(1) for m in re.finditer(rf"(?:{NUMBER})\s+([^\s,;:.()]+\.?)", text)]


def _noun(word):
    return re.match(r"[а-яё]", word, re.IGNORECASE) and word not in UNITS | NOT_NOUNS


def _phrase_after_number(text):
    """Up to three words after each number placeholder: "самых прибыльных товаров"."""
    return tuple(m.group(1) for m in re.finditer(rf"(?:{NUMBER})\s+((?:[^\s,;:.()%]+ ?){{1,3}})", text))


def test_a_message_that_puts_a_number_before_a_noun_has_plural_forms():
    """A singular message cannot decline: "%(count)d товаров" is wrong for 1, 2 and 21."""
    wrong = []
    for entry in messages():
        if entry.plural:
            continue
        for word in _word_after_number(entry.strs[0]):
            if _noun(word):
                wrong.append((entry.msgid, entry.strs[0]))
        for word in _word_after_number(entry.msgid):
            if re.fullmatch(r"[a-z]+s", word) and word not in {"is", "was", "has", "as"}:
                wrong.append((entry.msgid, word))
    assert wrong == []


def test_every_plural_message_declines_its_noun():
    """The three Russian forms differ where a noun follows the number (not one form copied thrice)."""
    copied = []
    for entry in messages():
        if not entry.plural or not _word_after_number(entry.strs[0]):
            continue
        phrases = {_phrase_after_number(entry.strs[index]) for index in (0, 1, 2)}
        if any(_noun(word) for word in _word_after_number(entry.strs[0])) and len(phrases) == 1:
            copied.append(entry.msgid)
    assert copied == []


def test_every_model_the_admin_shows_has_its_russian_forms():
    assert sorted(model._meta.label_lower for model in admin.site._registry if model._meta.label_lower not in NOUNS) \
        == []
    with translation.override("ru"):
        forms = {n: counted(Product._meta, n) for n in (1, 2, 5, 21, 2999)}
        assert forms == {1: "1 товар", 2: "2 товара", 5: "5 товаров", 21: "21 товар", 2999: "2\u00a0999 товаров"}
        assert accusative(Category._meta) == "категорию"
        for model in apps.get_models():
            if model._meta.label_lower in NOUNS:
                declined = {counted(model._meta, n).split(" ", 1)[1] for n in (1, 2, 5)}
                assert len(declined) >= 2, model  # at least "одна / несколько" differ
                assert not re.search(r"[A-Za-z]{4,}", accusative(model._meta).replace("Kaspi", "")), model


# --- the pages ----------------------------------------------------------------------------------
@pytest.mark.parametrize("count, text", [(1, "1 товар"), (2, "2 товара"), (5, "5 товаров"), (21, "21 товар")])
def test_the_product_list_counts_in_russian(admin_client, make_product, count, text):
    for _ in range(count):
        make_product()
    page = admin_client.get(reverse("admin:catalog_product_changelist")).content.decode()
    assert text in {" ".join(t.split()) for t in visible_texts(page)} | set(re.findall(r"\d+ \w+", page))


def test_titles_and_messages_use_the_case_and_gender_russian_needs(admin_client, db):
    add = admin_client.get(reverse("admin:orders_commissionrate_add")).content.decode()
    assert "<h1>Добавить ставку комиссии Kaspi</h1>" in add and "<title>Добавить ставку комиссии Kaspi |" in add
    listing = admin_client.get(reverse("admin:feeds_feedrun_changelist")).content.decode()
    assert "<h1>Сборки прайс-листа</h1>" in listing and "Выберите" not in listing
    assert "Добавить правило цены" in admin_client.get(reverse("admin:catalog_pricingrule_changelist")).content.decode()

    response = admin_client.post(reverse("admin:catalog_pricingrule_add"), {
        "name": "Наценка", "markup_percent": "20", "min_purchase_price": "0", "max_purchase_price": "100000",
        "markup_fixed": "0", "min_margin_percent": "0", "rounding": "1", "priority": "100",
        "is_active": "on"}, follow=True)
    saved = [str(message) for message in response.context["messages"]]
    assert PricingRule.objects.filter(name="Наценка").exists(), response.content.decode()[:3000]
    assert len(saved) == 1 and "был" not in saved[0] and "Наценка" in saved[0], saved


def _nouns_of_counts():
    """Every Russian noun form a counted message gives, with the plural indices it belongs to."""
    forms = {}
    for entry in messages():
        if entry.context == "count" and entry.plural:
            for index, text in entry.strs.items():
                forms.setdefault(text.split(" ", 1)[1], set()).add(index)
    return forms


def test_every_admin_page_agrees_its_numbers_and_shows_no_codes(admin_client, admin_user, shop):  # noqa: F811
    forms = _nouns_of_counts()
    with translation.override("ru"):
        plurals = {str(model._meta.verbose_name_plural).lower() for model in admin.site._registry}
    codes = _codes()
    wrong, raw = [], []
    for url in admin_pages(admin_user, shop):
        texts = visible_texts(admin_client.get(url).content.decode())
        for text in texts:
            for number, rest in re.findall(r"(?<![\d.,])(\d+) ((?:[а-яё-]+ ?){1,3})", text, re.IGNORECASE):
                right = any(rest.startswith(noun) for noun, ok in forms.items() if russian_form(int(number)) in ok)
                named = any(rest.startswith(noun) for noun in forms) or any(
                    rest.lower().startswith(plural) for plural in plurals)
                if named and not right:
                    wrong.append((url, text))
            raw += [(url, text) for code in codes if re.search(rf"(?<![\w-]){code}(?![\w-])", text)]
    assert wrong == [] and raw == []


def _codes():
    """The codes of Kaspi's and Al-Style's that the project stores: shown to people only by their label."""
    codes = {"PREPAID", "PAY_WITH_CREDIT"}
    for model in apps.get_models():
        if model._meta.app_label in {"catalog", "orders", "feeds", "purchasing", "monitoring", "jobs"}:
            for field in model._meta.get_fields():
                for value, _label in getattr(field, "choices", None) or []:
                    if isinstance(value, str) and len(value) > 3 and value.isupper():
                        codes.add(value)
    return codes


def test_permissions_schedules_and_codes_read_in_russian(admin_client, admin_user, shop):  # noqa: F811
    managers = Group.objects.get(name="Менеджеры")
    page = admin_client.get(reverse("admin:auth_group_change", args=[managers.pk])).content.decode()
    options = {" ".join(text.split()) for text in visible_texts(page)}
    assert "Товары: добавление" in options and "Товары: Может подтверждать цены, задержанные защитой" in options
    assert not [text for text in options if text.startswith("Can ") or ": Can " in text]

    schedules = visible_texts(admin_client.get(reverse("admin:django_q_schedule_changelist")).content.decode())
    assert "Импорт заказов Kaspi" in schedules and "sync_orders" not in schedules

    order = admin_client.get(reverse("admin:orders_order_change", args=[shop.pk])).content.decode()
    assert "оплачен" in visible_texts(order) and "PREPAID" not in order


@pytest.mark.parametrize("raw, summary", [
    ("HTTP 400: Security code is not valid", "сервис отклонил запрос (HTTP 400)"),
    ("malformed JSON in the answer (HTTP 502, 312 bytes)", "сервис ответил чем-то нечитаемым"),
    ("HTTPSConnectionPool(host='kaspi.kz', port=443): Read timed out.", "нет ответа вовремя"),
    ("HTTP 503", "ошибка на стороне сервиса (HTTP 503)"),
    ("Kaspi ответил, но изменение не применил", "Kaspi ответил, но изменение не применил"),
    ("", ""),
])
def test_lists_show_an_api_error_as_a_short_russian_summary(raw, summary):
    from common.errors import error_summary

    with translation.override("ru"):
        assert error_summary(raw) == summary


def test_the_full_api_answer_stays_on_the_records_page(admin_client, shop):  # noqa: F811
    listing = admin_client.get(reverse("admin:orders_statuschange_changelist")).content.decode()
    assert "Security code is not valid" not in listing and "сервис отклонил запрос (HTTP 400)" in listing
    failed = shop.__class__.objects.get(code="1001").status_changes.get()
    page = admin_client.get(reverse("admin:orders_statuschange_change", args=[failed.pk])).content.decode()
    assert "HTTP 400: Security code is not valid" in page


def test_run_notes_read_in_russian():
    """What a sync writes on its run row, for people to read in the admin, is in the shop's language."""
    from catalog.services import _parse_all, is_skipped_note

    notes = []
    with translation.override("ru"):
        items, skipped = _parse_all([{"article": "x1"}, {"article": 7, "name": "Кабель", "price1": 10, "price2": 5},
                                     {"article": 7, "name": "Кабель", "price1": 10}], notes)
        assert skipped == 2 and list(items) == [7]
        assert notes == ["пропущено: артикул 'x1' — не число", "артикул 7: price2 5 ниже price1 10, не учтена",
                         "пропущено: артикул 7 указан дважды"]
        assert [is_skipped_note(note) for note in notes] == [True, False, True]
