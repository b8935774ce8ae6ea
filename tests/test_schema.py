"""The local Kaspi schema rejects what Kaspi rejects (the price-list rules of the seller guide)."""

import pytest

from feeds.validation import validate_file

GOOD_OFFER = (
    '<offer sku="{sku}"><model>{model}</model><brand>Xiaomi</brand>'
    '<availabilities><availability available="{available}" storeId="PP1"{preorder} stockCount="3"/></availabilities>'
    "<price>{price}</price></offer>"
)


def feed(offers):
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<kaspi_catalog date="2026-11-29T10:00:00" xmlns="kaspiShopping"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xsi:schemaLocation="kaspiShopping http://kaspi.kz/kaspishopping.xsd">\n'
        "<company>Shop</company>\n<merchantid>12345</merchantid>\n<offers>\n"
        + "\n".join(offers)
        + "\n</offers>\n</kaspi_catalog>\n"
    )


def offer(sku="20908", model="Колонки Mi", available="yes", preorder="", price="11490"):
    return GOOD_OFFER.format(sku=sku, model=model, available=available, preorder=preorder, price=price)


@pytest.fixture
def check(tmp_path):
    def check(text):
        path = tmp_path / "feed.xml"
        path.write_text(text, encoding="utf-8")
        return validate_file(path)

    return check


def test_it_accepts_a_good_minimal_document(check):
    assert check(feed([offer()])) == []


def test_it_accepts_city_prices_and_a_pre_order(check):
    city_offer = offer(preorder=' preOrder="30"').replace(
        "<price>11490</price>",
        '<cityprices><cityprice cityId="750000000">11490</cityprice>'
        '<cityprice cityId="710000000">11990</cityprice></cityprices>',
    )
    assert check(feed([city_offer])) == []


@pytest.mark.parametrize("sku", ["123456789_987654321", "A_1_b2", "Z" * 20])
def test_it_accepts_kaspis_own_skus_with_underscores(check, sku):
    assert check(feed([offer(sku=sku)])) == []


def test_it_rejects_a_duplicate_sku_and_names_its_line(check, tmp_path):
    errors = check(feed([offer(sku="A1"), offer(sku="B2"), offer(sku="A1")]))
    assert len(errors) == 1
    assert errors[0].startswith("line 8:") and "Duplicate key-sequence ['A1']" in errors[0]
    # A caller that has checked SKUs itself may skip the check (it holds every SKU in memory).
    assert validate_file(tmp_path / "feed.xml", unique_skus=False) == []


@pytest.mark.parametrize(
    "bad_offer, complaint",
    [
        (offer(sku="20 908"), "20 908"),
        (offer(sku="2090Б"), "2090Б"),
        (offer(sku="A" * 21), "length"),
        (offer(sku="1234567890_9876543210"), "length"),
        (offer(sku="20/908"), "20/908"),
        (offer(sku="123_456 7"), "123_456 7"),
        (offer(sku="123_4Б"), "123_4Б"),
        (offer(sku="_123"), "_123"),
        (offer(sku="123_"), "123_"),
        (offer(sku="12__34"), "12__34"),
        (offer(price="11490.00"), "11490.00"),
        (offer(price="0"), "'0'"),
        (offer(available="maybe"), "maybe"),
        (offer(preorder=' preOrder="31"'), "31"),
        (offer().replace("<model>Колонки Mi</model>", ""), "Expected is ( {kaspiShopping}model )"),
        (offer(model="  "), "model"),
    ],
    ids=["space-in-sku", "cyrillic-sku", "21-char-sku", "21-char-underscore-sku", "slash-in-sku",
         "space-in-underscore-sku", "cyrillic-underscore-sku", "leading-underscore", "trailing-underscore",
         "double-underscore", "decimal-price", "zero-price", "maybe", "preorder-31",
         "missing-model", "blank-model"],
)
def test_it_rejects_what_kaspi_rejects(check, bad_offer, complaint):
    errors = check(feed([offer(sku="OK1"), bad_offer]))
    assert errors and errors[0].startswith("line 7:")
    assert complaint in errors[0]


def test_it_reports_xml_syntax_errors_with_their_line(check):
    errors = check(feed([offer(model="Tom & Jerry")]))
    assert errors and errors[0].startswith("line 6:")


def test_it_reports_a_truncated_file(check):
    errors = check(feed([offer()])[:-40])
    assert errors


def test_it_reports_a_missing_file(tmp_path):
    assert "cannot read" in validate_file(tmp_path / "nowhere.xml")[0]
