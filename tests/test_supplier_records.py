import pytest

from catalog.supplier import BadRecord, category_parents, make_sku, parse_item, parse_stock


def record(**fields):
    return {"article": 20908, "name": "Колонки Mi", "price1": 9000, "price2": 11490, "quantity": 12,
            "category": 3, "brand": "Xiaomi", **fields}


def test_it_parses_an_ordinary_record():
    item, warnings = parse_item(record())
    assert (item.article, item.name, item.brand, item.purchase_price, item.retail_price, item.stock) == (
        20908, "Колонки Mi", "Xiaomi", 9000, 11490, 12)
    assert warnings == []


@pytest.mark.parametrize("article", [None, "", "ABC-1", "12 34", -5, 0])
def test_it_rejects_records_without_a_numeric_article(article):
    with pytest.raises(BadRecord, match="article"):
        parse_item(record(article=article))


def test_it_rejects_a_record_that_is_not_an_object():
    with pytest.raises(BadRecord, match="not an object"):
        parse_item(["article", 1])


def test_it_falls_back_to_the_full_name_when_the_name_is_null():
    item, _ = parse_item(record(name=None, full_name="Полное имя"))
    assert item.name == "Полное имя"


def test_it_rejects_a_record_with_no_name_at_all():
    with pytest.raises(BadRecord, match="no name"):
        parse_item(record(name=None, full_name="  "))


def test_it_accepts_a_null_brand():
    item, _ = parse_item(record(brand=None))
    assert item.brand == ""


def test_it_handles_missing_fields():
    item, _ = parse_item({"article": "77", "name": "X"})
    assert (item.purchase_price, item.retail_price, item.stock, item.category_id, item.brand) == (
        None, None, 0, None, "")


@pytest.mark.parametrize("quantity, expected", [(">50", 50), ("> 100", 100), ("7", 7), (3, 3), ("-2", 0),
                                                ("", 0), (None, 0), ("много", 0), ("2.0", 2)])
def test_it_maps_supplier_quantities_to_stock(quantity, expected):
    assert parse_stock(quantity) == expected


def test_it_maps_more_than_to_the_configured_number(settings):
    settings.STOCK_MORE_THAN = 10
    assert parse_stock(">50") == 10


def test_it_keeps_price_on_request_as_one_tenge():
    item, _ = parse_item(record(price1=1))
    assert item.purchase_price == 1


def test_it_ignores_a_retail_price_below_the_purchase_price():
    item, warnings = parse_item(record(price1=9000, price2=100))
    assert item.retail_price is None
    assert "below price1" in warnings[0]


def test_it_rounds_fractional_prices_to_whole_tenge():
    item, _ = parse_item(record(price1="9000.5", price2=0))
    assert (item.purchase_price, item.retail_price) == (9001, None)


def test_it_strips_control_characters_and_keeps_xml_specials():
    item, _ = parse_item(record(name="Кабель\x01 \x0bHDMI & <DVI> \"2м\""))
    assert item.name == 'Кабель HDMI & <DVI> "2м"'


def test_it_cuts_a_600_character_name_to_the_column():
    item, _ = parse_item(record(name="Очень длинное название " * 50))
    assert len(item.name) <= 1000


def test_it_never_uses_the_part_number_as_sku(settings):
    item, _ = parse_item(record(article_pn="ST/UPC-ST/UPC MM OM1 62.5/125 Simplex 3.0мм 1 м"))
    assert make_sku(item.article) == "20908"
    settings.SKU_PREFIX = "AS"
    assert make_sku(item.article) == "AS20908"


def test_it_flattens_the_nested_set_category_tree():
    tree = [
        {"id": 1, "name": "Компьютеры", "left": 1, "right": 6, "level": 1},
        {"id": 2, "name": "Ноутбуки", "left": 2, "right": 3, "level": 2},
        {"id": 3, "name": "Мониторы", "left": 4, "right": 5, "level": 2},
        {"id": 4, "name": "Сеть", "left": 7, "right": 8, "level": 1},
        {"bad": "node"},
    ]
    assert category_parents(tree) == {1: ("Компьютеры", None), 2: ("Ноутбуки", 1), 3: ("Мониторы", 1),
                                      4: ("Сеть", None)}


def test_it_rejects_an_article_too_long_for_a_kaspi_sku(settings):
    settings.SKU_PREFIX = "AS"
    parse_item(record(article=10**17))  # 18 digits + 2: exactly 20
    with pytest.raises(BadRecord, match="longer than Kaspi's 20"):
        parse_item(record(article=10**18))
