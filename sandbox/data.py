"""Deterministic fake data: Al-Style's catalogue and Kaspi's orders.

Everything is drawn from a seeded `random.Random`, so one seed always gives the same catalogue.
Most products are ordinary; a few percent carry one of the quirks the real supplier is known for
(see `QUIRKS`), each at least once so a small catalogue shows them too.
"""

import base64
import hashlib
import itertools
import string
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

ALMATY = ZoneInfo("Asia/Almaty")
FIRST_ARTICLE = 10000
DAY_MS = 86_400_000
DELIVERY_DAYS = 1  # from the courier's pick-up to the buyer

# Root category -> leaves: (name, Kaspi category code, product kind, brands, purchase price range).
CATEGORY_TREE = [
    ("Компьютерная техника", [
        ("Ноутбуки", "Notebooks", "Ноутбук", ("HP", "Lenovo", "ASUS", "Acer"), (180_000, 650_000)),
        ("Мониторы", "Monitors", "Монитор", ("Samsung", "LG", "Xiaomi", "AOC", "Philips"), (45_000, 250_000)),
        ("SSD-накопители", "SSD", "Накопитель SSD", ("Samsung", "Kingston", "ADATA", "Netac"), (9_000, 80_000)),
    ]),
    ("Периферия", [
        ("Мыши", "Mice", "Мышь беспроводная", ("Logitech", "Defender", "A4Tech", "Xiaomi", "HP"), (2_000, 45_000)),
        ("Клавиатуры", "Keyboards", "Клавиатура", ("Logitech", "Defender", "A4Tech", "HP", "Redragon"),
         (3_000, 60_000)),
        ("Наушники и гарнитуры", "Headphones", "Наушники", ("Sony", "JBL", "Xiaomi", "Defender", "HyperX"),
         (4_000, 150_000)),
        ("Веб-камеры", "Webcams", "Веб-камера", ("Logitech", "Defender", "A4Tech"), (6_000, 70_000)),
    ]),
    ("Смартфоны и гаджеты", [
        ("Смартфоны", "Smartphones", "Смартфон", ("Samsung", "Xiaomi", "Apple", "realme"), (50_000, 700_000)),
        ("Умные часы", "Smart watches", "Смарт-часы", ("Xiaomi", "Samsung", "Huawei", "Amazfit"),
         (12_000, 200_000)),
        ("Портативная акустика", "Portable speakers", "Колонка портативная", ("JBL", "Xiaomi", "Sony", "Defender"),
         (6_000, 120_000)),
        ("Внешние аккумуляторы", "Power banks", "Внешний аккумулятор", ("Xiaomi", "Baseus", "Anker", "Defender"),
         (5_000, 40_000)),
    ]),
    ("Сетевое оборудование", [
        ("Маршрутизаторы", "Routers", "Wi-Fi роутер", ("TP-Link", "Keenetic", "Xiaomi", "MikroTik"),
         (9_000, 90_000)),
        ("Кабели и патч-корды", "Cables", "Патч-корд", ("SHIP", "Defender", "Cablexpert", "TP-Link"), (300, 8_000)),
    ]),
    ("Оргтехника", [
        ("Принтеры и МФУ", "Printers", "МФУ лазерное", ("HP", "Canon", "Pantum", "Brother"), (60_000, 400_000)),
        ("Картриджи", "Cartridges", "Картридж", ("HP", "Canon", "Pantum", "Colortek"), (4_000, 60_000)),
    ]),
    ("Электропитание", [
        ("ИБП", "UPS", "Источник бесперебойного питания", ("APC", "Ippon", "SVC", "Powercom"), (20_000, 300_000)),
        ("Сетевые фильтры", "Surge protectors", "Сетевой фильтр", ("Defender", "APC", "SVC", "Xiaomi"),
         (2_000, 20_000)),
    ]),
]
COLORS = ("черный", "белый", "серый", "синий", "красный")
MODEL_PREFIXES = ("M", "K", "X", "G", "S", "A", "Pro ", "Lite ", "Air ")
ODD_PART_NUMBERS = (
    "ST/UPC-ST/UPC MM OM1 62.5/125 Simplex 3.0мм 1 м",
    "CB 3412/Б черный",
    "910-005500 (M185 серый)",
    "KB-2021 RU/EN USB проводная",
)
KASPI_CITIES = [("750000000", "Алматы"), ("710000000", "Астана"), ("511010000", "Шымкент"),
                ("351010000", "Караганда")]


# --- Al-Style catalogue -------------------------------------------------------------------------


def make_catalogue(rng, count):
    """Return `(categories, products)`: the nested-set category list and `count` product dicts."""
    categories, leaves = _categories()
    products = [_product(rng, article, rng.choice(leaves)) for article in _articles(rng, count)]
    for index, quirk in _quirk_plan(rng, count).items():
        quirk(products[index], rng)
    _duplicate_one_article(rng, products)
    return categories, products


def _categories():
    """Number the fixed tree as Al-Style does (nested set: left/right/level); root ids 100, 200, ..."""
    categories, leaves, counter = [], [], itertools.count(1)
    for root_number, (root_name, children) in enumerate(CATEGORY_TREE, start=1):
        root_id, root_left, root_index = 100 * root_number, next(counter), len(categories)
        categories.append(None)  # the root's right edge is known only once its children are numbered
        for child_number, (name, kaspi_code, kind, brands, prices) in enumerate(children, start=1):
            leaf = {"id": root_id + child_number, "name": name, "left": next(counter), "right": next(counter),
                    "level": 2}
            categories.append(leaf)
            leaves.append({**leaf, "kaspi_code": kaspi_code, "kind": kind, "brands": brands, "prices": prices})
        categories[root_index] = {"id": root_id, "name": root_name, "left": root_left, "right": next(counter),
                                  "level": 1}
    return categories, leaves


LEAVES = {leaf["id"]: leaf for leaf in _categories()[1]}


def _articles(rng, count):
    """Unique, ascending, with gaps like a real catalogue that has lost items over the years."""
    article = FIRST_ARTICLE
    for _ in range(count):
        article += rng.randint(1, 7)
        yield article


def _product(rng, article, leaf):
    brand = rng.choice(leaf["brands"])
    model = f"{rng.choice(MODEL_PREFIXES)}{rng.randint(10, 990)}"
    name = f"{leaf['kind']} {brand} {model}"
    price1 = rng.randint(*leaf["prices"])
    return {
        "article": article,
        "article_pn": f"{rng.choice(string.ascii_uppercase)}{rng.choice(string.ascii_uppercase)}"
                      f"{rng.randint(100, 9999)}-{rng.randint(10, 99)}",
        "name": name,
        "full_name": f"{name}, цвет {rng.choice(COLORS)}",
        "category": leaf["id"],
        "price1": price1,
        "price2": int(round(price1 * rng.uniform(1.12, 1.35), -1)),
        "quantity": _quantity(rng),
        "isnew": 1 if rng.random() < 0.05 else 0,
        "brand": brand,
    }


def _quantity(rng):
    """Mostly a small count; sometimes none, sometimes Al-Style's "more than" strings."""
    roll = rng.random()
    if roll < 0.04:
        return 0
    if roll < 0.06:
        return ">50"
    if roll < 0.07:
        return ">100"
    return rng.randint(1, 40)


# Each quirk changes one product in place. Shares are of the catalogue; every quirk gets at least
# one product, and the total stays at a few percent so most items are ordinary.
def _price_on_request(product, rng):
    product["price1"] = 1


def _no_retail_price(product, rng):
    product["price2"] = 0


def _missing_retail_price(product, rng):
    del product["price2"]


def _retail_below_purchase(product, rng):
    product["price2"] = product["price1"] * rng.randint(80, 95) // 100


def _ampersand_name(product, rng):
    product["name"] = product["name"] + " Black & White"
    product["full_name"] = product["full_name"] + " & кабель USB"


def _quoted_name(product, rng):
    product["name"] = f'{product["name"]} "Office" 24\''
    product["full_name"] = f"{product['full_name']} «Офис»"


def _angle_bracket_name(product, rng):
    product["name"] = f"{product['name']} USB-C <-> HDMI"


def _control_char_name(product, rng):
    product["name"] = product["name"].replace(" ", "\x01 ", 1) + "\x0b"


def _long_name(product, rng):
    filler = " с расширенной гарантией и комплектом кабелей для подключения"
    product["name"] = (product["name"] + filler * 20)[:600]


def _null_name(product, rng):
    product["name"] = None


def _null_brand(product, rng):
    product["brand"] = None


def _empty_brand(product, rng):
    product["brand"] = ""


def _odd_part_number(product, rng):
    product["article_pn"] = rng.choice(ODD_PART_NUMBERS)


QUIRKS = {
    _price_on_request: 0.005,
    _no_retail_price: 0.004,
    _missing_retail_price: 0.002,
    _retail_below_purchase: 0.004,
    _ampersand_name: 0.005,
    _quoted_name: 0.004,
    _angle_bracket_name: 0.002,
    _control_char_name: 0.002,
    _long_name: 0.001,
    _null_name: 0.002,
    _null_brand: 0.003,
    _empty_brand: 0.002,
    _odd_part_number: 0.008,
}


def _quirk_plan(rng, count):
    """Which product index gets which quirk: one quirk per product, on distinct random products."""
    indexes = list(range(count))
    rng.shuffle(indexes)
    plan = {}
    for quirk, share in QUIRKS.items():
        for _ in range(max(1, round(share * count))):
            if len(plan) == count:
                return plan
            plan[indexes[len(plan)]] = quirk
    return plan


def _duplicate_one_article(rng, products):
    """Repeat an early article further on (a later page when there are several): Al-Style does."""
    if len(products) < 2:
        return
    original = rng.randrange(0, max(1, min(len(products), 250) // 2))
    later = rng.randrange(max(original + 1, len(products) // 2, min(250, len(products) - 1)), len(products))
    products[later] = {**products[original], "quantity": _quantity(rng)}


# --- Kaspi orders -------------------------------------------------------------------------------

FIRST_NAMES = {
    "m": ("Ержан", "Нурлан", "Данияр", "Арман", "Тимур", "Бауыржан", "Дмитрий", "Сергей", "Алексей", "Асхат"),
    "f": ("Айгерим", "Асель", "Алия", "Мадина", "Жанна", "Гульнара", "Елена", "Ольга", "Дана", "Томирис"),
}
LAST_NAMES = (
    ("Ахметов", "Ахметова"), ("Серикбаев", "Серикбаева"), ("Жумабеков", "Жумабекова"), ("Иванов", "Иванова"),
    ("Ким", "Ким"), ("Нурланов", "Нурланова"), ("Петренко", "Петренко"), ("Смагулов", "Смагулова"),
    ("Кузнецов", "Кузнецова"), ("Оспанов", "Оспанова"),
)
STREETS = ("Абая", "Достык", "Толе би", "Сатпаева", "Кабанбай батыра", "Мангилик Ел", "Назарбаева")
DELIVERY_MODES = {  # mode: share of orders
    "DELIVERY_PICKUP": 0.4,
    "DELIVERY_LOCAL": 0.3,
    "DELIVERY_REGIONAL_TODOOR": 0.2,
    "DELIVERY_REGIONAL_PICKUP": 0.1,
}
LINE_COUNTS = {1: 50, 2: 25, 3: 15, 4: 10}  # lines in a random order: share
UNKNOWN_OFFER_SHARE = 0.04  # lines for offers the shop no longer has (or never had) in its catalogue
OMITTED_SHARE = 1 / 8  # orders whose lines all lack entryNumber; drawn again for totalPrice
CREDIT_TERMS = (3, 6, 12, 24)  # months
CANCELLATION_REASONS = ("BUYER_CANCELLATION_BY_MERCHANT", "BUYER_NOT_REACHABLE", "MERCHANT_OUT_OF_STOCK")
OPEN_STATUSES = ("APPROVED_BY_BANK", "ACCEPTED_BY_MERCHANT")
FINAL_STATUSES = ("COMPLETED", "CANCELLED", "RETURNED")
DELIVERED_STATUSES = ("COMPLETED", "KASPI_DELIVERY_RETURN_REQUESTED", "RETURNED")
RECENT_DAYS = 21  # buyers change their minds up to 14 days after delivery, which takes up to a week
WAYBILLS_ROOT = "/kaspi/waybills"  # where the sandbox serves the waybill PDFs Kaspi Delivery makes
COURIER_HOUR = 10  # Almaty time, the morning after assembly, when the courier comes for the parcels
MINUTE_MS, HOUR_MS = 60_000, 3_600_000


def order_id(number):
    """Kaspi's ids are opaque base64 strings ending in `=`; clients must URL-encode them."""
    return base64.b64encode(str(1_000_000_000 + number).encode()).decode()


def accepted_state(attributes):
    """Where an accepted order goes: it depends on how it reaches the buyer."""
    if attributes["isKaspiDelivery"]:
        return "KASPI_DELIVERY"
    return "PICKUP" if attributes["deliveryMode"] == "DELIVERY_PICKUP" else "DELIVERY"


def make_orders(rng, *, count, days, now, products, site):
    """`count` orders created over the last `days` days, oldest first, in states that fit their age.

    `site` (`http://host:port`) is where the sandbox serves the waybills of orders already assembled.
    """
    sellable = sellable_products(products)
    orders = []
    for number, created in enumerate(_creation_times(rng, count, days, now), start=1):
        order = make_order(rng, number=number, created_ms=to_ms(created), sellable=sellable)
        attributes = order["attributes"]
        age_days = (now - created) / timedelta(days=1)
        attributes["state"], attributes["status"] = _state_for_age(rng, age_days, attributes)
        _history(rng, order, age_days, to_ms(now), site)
        orders.append(order)
    return orders


def make_order(rng, *, number, created_ms, sellable, entries=None, delivery_mode=None, kaspi_delivery=None,
               pre_order=None, signature=None, express=None):
    """A new order (NEW / APPROVED_BY_BANK); `entries` is `[(sku, quantity[, unit_price])]` or random.

    Each choice left at None is drawn. A signature means a credit purchase (PAY_WITH_CREDIT).
    """
    mode, kaspi_delivery = _delivery(rng, delivery_mode, kaspi_delivery)
    signature = rng.random() < 0.1 if signature is None else signature
    pre_order = rng.random() < 0.05 if pre_order is None else pre_order
    express = kaspi_delivery and rng.random() < 0.2 if express is None else express
    city = KASPI_CITIES[0] if mode in ("DELIVERY_PICKUP", "DELIVERY_LOCAL") else rng.choice(KASPI_CITIES[1:])
    identifier = order_id(number)
    lines = _entries(rng, identifier, entries or _random_entries(rng, sellable), sellable)
    attributes = {
        "code": str(500_000_000 + number * 1_337 + rng.randint(0, 1_000)),
        "totalPrice": order_total(lines),
        "paymentMode": "PAY_WITH_CREDIT" if signature else "PREPAID",
        "creditTerm": rng.choice(CREDIT_TERMS) if signature else None,
        "creationDate": created_ms,
        "approvedByBankDate": created_ms + rng.randint(1, 20) * MINUTE_MS,
        "plannedDeliveryDate": created_ms + rng.randint(1, 5) * DAY_MS,
        "reservationDate": created_ms + rng.randint(3, 30) * DAY_MS if pre_order else None,
        "deliveryMode": mode,
        "isKaspiDelivery": kaspi_delivery,
        "deliveryAddress": None if mode == "DELIVERY_PICKUP" else _address(rng, city[1]),
        "deliveryCost": 0 if mode == "DELIVERY_PICKUP" or kaspi_delivery else rng.choice((0, 1000, 1500)),
        "deliveryCostForSeller": rng.randint(1, 30) * 100 if kaspi_delivery else 0,
        "pickupPointId": "PP1" if mode == "DELIVERY_PICKUP" else None,
        "signatureRequired": signature,
        "preOrder": pre_order,
        "assembled": False,
        "state": "SIGN_REQUIRED" if signature else "NEW",
        "status": "APPROVED_BY_BANK",
        "cancellationReason": None,
        "customer": _customer(rng, f"customer-{number}"),
        **_delivery_fields(kaspi_delivery, express),
    }
    return {"id": identifier, "customer_id": f"customer-{number}", "attributes": attributes, "entries": lines}


def order_total(lines):
    """Unit price times quantity, summed: a line's own `totalPrice` may be missing from Kaspi's answer."""
    return sum(line["attributes"]["basePrice"] * line["attributes"]["quantity"] for line in lines)


def set_delivery_field(attributes, name, value):
    """Set `express` or `returnedToWarehouse` where the order carries it: in `kaspiDelivery`, or flat."""
    attributes.get("kaspiDelivery", attributes)[name] = value


def assemble(attributes, identifier, *, site, at_ms):
    """Kaspi makes the waybill of an assembled Kaspi Delivery order and books the courier for the next morning.

    The waybill's file name and number derive from the order id: opaque, yet the same on every run.
    """
    digest = hashlib.sha256(identifier.encode()).hexdigest()
    attributes["assembled"] = True
    attributes["kaspiDelivery"].update(
        waybill=f"{site}{WAYBILLS_ROOT}/{digest[:32]}.pdf",
        waybillNumber=f"{int(digest[32:48], 16) % 10**10:010d}",
        courierTransmissionPlanningDate=_next_morning(at_ms),
    )


def hand_over_due(orders, now_ms):
    """Kaspi's courier collects every assembled parcel whose planned morning has come, and Kaspi
    completes an order itself a day after its courier took it (delivered: the shop cannot)."""
    for order in orders:
        attributes = order["attributes"]
        delivery = attributes.get("kaspiDelivery") or {}
        planned, taken = delivery.get("courierTransmissionPlanningDate"), delivery.get("courierTransmissionDate")
        if attributes["status"] != "ACCEPTED_BY_MERCHANT":
            continue
        if planned and planned <= now_ms and not taken:
            delivery["courierTransmissionDate"] = now_ms
        elif taken and taken + DELIVERY_DAYS * DAY_MS <= now_ms:
            attributes.update(status="COMPLETED", state="ARCHIVE")


def change_of_mind(rng, orders, now_ms):
    """Now and then a buyer cancels an order on its way or just received, or sends Kaspi Delivery goods back."""
    recent = [o["attributes"] for o in orders if o["attributes"]["creationDate"] >= now_ms - RECENT_DAYS * DAY_MS]
    roll = rng.random()
    if roll < 0.1:
        status = "CANCELLING"
        pool = [a for a in recent if a["status"] == "ACCEPTED_BY_MERCHANT"
                or (a["status"] == "COMPLETED" and not a["isKaspiDelivery"])]
    elif roll < 0.15:
        status = "KASPI_DELIVERY_RETURN_REQUESTED"
        pool = [a for a in recent if a["status"] == "COMPLETED" and a["isKaspiDelivery"]]
    else:
        return
    if pool:
        attributes = rng.choice(pool)
        attributes.update(status=status, state=accepted_state(attributes))


def sellable_products(products):
    """Catalogue items a buyer could have ordered: named and with a real price; keyed by SKU."""
    return {str(p["article"]): p for p in products if p.get("name") and p.get("price1", 0) > 1}


def to_ms(moment):
    return int(moment.timestamp() * 1000)


def now_utc():
    return datetime.now(UTC)


def _delivery(rng, mode, kaspi_delivery):
    """The delivery mode, and whether Kaspi Delivery carries the order: never a pickup one."""
    if kaspi_delivery and mode == "DELIVERY_PICKUP":
        raise ValueError("a Kaspi Delivery order is delivered, not picked up")
    if kaspi_delivery and mode is None:
        return "DELIVERY_LOCAL", True
    mode = mode or _weighted(rng, DELIVERY_MODES)
    if kaspi_delivery is None:
        kaspi_delivery = mode != "DELIVERY_PICKUP" and rng.random() < 0.5
    return mode, kaspi_delivery


def _delivery_fields(kaspi_delivery, express):
    """Real answers nest Kaspi Delivery's fields under `kaspiDelivery` (the guide lists them flat); others flat."""
    if not kaspi_delivery:
        return {"express": express, "returnedToWarehouse": False}
    return {"kaspiDelivery": {"waybill": None, "waybillNumber": None, "courierTransmissionDate": None,
                              "courierTransmissionPlanningDate": None, "express": express,
                              "returnedToWarehouse": False}}


def _creation_times(rng, count, days, now):
    """Random moments over the last `days` days, during Almaty shopping hours (08-23), oldest first."""
    times = []
    while len(times) < count:
        moment = now - timedelta(seconds=rng.uniform(0, days * 86_400))
        if 8 <= moment.astimezone(ALMATY).hour < 23:
            times.append(moment)
    return sorted(times)


def _state_for_age(rng, age_days, attributes):
    """Fresh orders wait for the shop, older ones are on their way (a few being undone), old ones are archived."""
    waiting = (attributes["state"], "APPROVED_BY_BANK")
    accepted = (accepted_state(attributes), "ACCEPTED_BY_MERCHANT")
    completed, cancelled, returned = ("ARCHIVE", "COMPLETED"), ("ARCHIVE", "CANCELLED"), ("ARCHIVE", "RETURNED")
    if age_days < 1:
        mix = {waiting: 80, accepted: 15, cancelled: 5}
    elif age_days < 5:
        mix = {waiting: 15, accepted: 45, completed: 30, cancelled: 10, (accepted[0], "CANCELLING"): 4}
        if attributes["isKaspiDelivery"]:
            mix[(accepted[0], "KASPI_DELIVERY_RETURN_REQUESTED")] = 4
    else:
        mix = {completed: 85, cancelled: 12, returned: 3}
    return _weighted(rng, mix)


def _history(rng, order, age_days, now_ms, site):
    """What an order went through to reach its status: a cancellation reason, a return, a waybill, a courier."""
    attributes = order["attributes"]
    status = attributes["status"]
    if status == "CANCELLED":
        attributes["cancellationReason"] = rng.choice(CANCELLATION_REASONS)
    elif status == "RETURNED":
        set_delivery_field(attributes, "returnedToWarehouse", True)
    if status not in OPEN_STATUSES:
        attributes.update(preOrder=False, reservationDate=None)  # its goods came in long ago
    if not attributes["isKaspiDelivery"]:
        return
    if status in DELIVERED_STATUSES:
        _courier(rng, order, now_ms, site, hand_over=True)
    elif status == "ACCEPTED_BY_MERCHANT" and age_days > 1 and rng.random() < 0.5:
        _courier(rng, order, now_ms, site, hand_over=rng.random() < 0.5)


def _courier(rng, order, now_ms, site, *, hand_over):
    """Assembled a few hours after it came in; if `hand_over`, collected on the planned morning (not after now)."""
    attributes = order["attributes"]
    assemble(attributes, order["id"], site=site, at_ms=attributes["creationDate"] + rng.randint(1, 6) * HOUR_MS)
    delivery = attributes["kaspiDelivery"]
    if hand_over:
        handed = min(delivery["courierTransmissionPlanningDate"] + rng.randint(0, 180) * MINUTE_MS, now_ms)
        delivery["courierTransmissionDate"] = handed
        delivery["courierTransmissionPlanningDate"] = min(delivery["courierTransmissionPlanningDate"], handed)


def _next_morning(moment_ms):
    day = datetime.fromtimestamp(moment_ms / 1000, ALMATY).date() + timedelta(days=1)
    return to_ms(datetime(day.year, day.month, day.day, COURIER_HOUR, tzinfo=ALMATY))


def _random_entries(rng, sellable):
    skus = list(sellable)
    lines = []
    for _ in range(_weighted(rng, LINE_COUNTS)):
        quantity = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
        if not skus or rng.random() < UNKNOWN_OFFER_SHARE:
            lines.append((str(rng.randint(900_000, 999_999)), quantity))
        else:
            lines.append((rng.choice(skus), quantity))
    return lines


def _entries(rng, identifier, specs, sellable):
    """Order lines in Kaspi's shape, numbered from 0; about 1 order in 8 lacks entryNumber, 1 in 8 totalPrice."""
    omitted = {key for key in ("entryNumber", "totalPrice") if rng.random() < OMITTED_SHARE}
    return [_entry(rng, identifier, number, spec, sellable, omitted) for number, spec in enumerate(specs)]


def _entry(rng, identifier, number, spec, sellable, omitted):
    """One line: the offer code is the shop's SKU, the price Kaspi's unit price; the id decodes to `<order>##<n>`."""
    sku, quantity, *price = spec
    product = sellable.get(str(sku))
    unit_price = price[0] if price else _retail_price(rng, product)
    attributes = {
        "quantity": quantity,
        "basePrice": unit_price,
        "totalPrice": unit_price * quantity,
        "entryNumber": number,
        "offer": {"code": str(sku), "name": _offer_name(product, sku)},
        "category": _kaspi_category(product),
        "deliveryCost": 0 if rng.random() < 0.9 else rng.choice((500, 1000)),
        "weight": round(rng.uniform(0.1, 4.0), 2),
        "unitType": "PIECE",
    }
    return {
        "id": base64.b64encode(f"{identifier}##{number}".encode()).decode(),
        "attributes": {key: value for key, value in attributes.items() if key not in omitted},
    }


def _retail_price(rng, product):
    """What the shop sold it for: the supplier's RRP or a 25 % markup, whichever is higher."""
    if product is None:
        return rng.randint(10, 500) * 100
    return int(round(max(product.get("price2") or 0, product["price1"] * 1.25), -1))


def _offer_name(product, sku):
    if product is None:
        return f"Товар {sku}"
    name = "".join(ch for ch in product["name"] if ch.isprintable())
    return name[:255]


def _kaspi_category(product):
    leaf = LEAVES.get(product["category"]) if product else None
    if leaf is None:
        return {"code": "Master - Other", "title": "Другое"}
    return {"code": f"Master - {leaf['kaspi_code']}", "title": leaf["name"]}


def _customer(rng, identifier):
    """Kaspi's `name` is often null (1 in 5 here) or the first name only (1 in 5): show firstName lastName."""
    gender = rng.choice("mf")
    first = rng.choice(FIRST_NAMES[gender])
    last = rng.choice(LAST_NAMES)[0 if gender == "m" else 1]
    phone = f"+77{rng.choice(('01', '05', '07', '47', '71', '77'))}{rng.randint(0, 9_999_999):07d}"
    roll = rng.random()
    name = None if roll < 0.2 else first if roll < 0.4 else f"{first} {last}"
    return {"id": identifier, "name": name, "firstName": first, "lastName": last, "cellPhone": phone}


def _address(rng, town):
    street, number, apartment = rng.choice(STREETS), rng.randint(1, 250), rng.randint(1, 180)
    return {
        "streetName": street,
        "streetNumber": str(number),
        "town": town,
        "building": None,
        "apartment": str(apartment),
        "formattedAddress": f"{town}, ул. {street}, {number}, кв. {apartment}",
    }


def _weighted(rng, shares):
    return rng.choices(list(shares), weights=list(shares.values()))[0]


# --- Al-Style: the partner's account and the orders it placed ----------------------------------

# api/user-data: what a submit must choose from, one of each marked as the default (`Основной`).
ALSTYLE_USER_DATA = {
    "Доверенности": [
        {"ID": "d-1041", "ФИО": "Ахметов Нурлан Серикович", "Номер": "17", "ДатаОкончания": "31.12.2031",
         "Основной": True},
        {"ID": "d-1042", "ФИО": "Ким Ольга Викторовна", "Номер": "18", "ДатаОкончания": "30.06.2031",
         "Основной": False},
    ],
    "Транспортники": [
        {"ID": "t-7", "Наименование": "Самовывоз со склада Алматы", "Основной": True},
        {"ID": "t-12", "Наименование": "ТК «КИТ» до терминала в Астане", "Основной": False},
    ],
    "bin": "180740012345",
}
ALSTYLE_WAREHOUSES = {
    "almaty": {"name": "Склад Алматы", "city": "Алматы", "full_address": "г. Алматы, ул. Бокейханова, 510",
               "lat": 43.2765, "lng": 76.8987, "phone": "+7 727 356-04-04"},
    "astana": {"name": "Склад Астана", "city": "Астана", "full_address": "г. Астана, пр. Тлендиева, 15/1",
               "lat": 51.1538, "lng": 71.4086, "phone": "+7 717 279-04-04"},
}
FIRST_SUPPLIER_ORDER = 311_000  # Al-Style numbers every partner's orders in one sequence: ours have gaps


def next_supplier_order_id(rng, last):
    return last + rng.randint(3, 60)


def supplier_order(*, order_id, created, cart, fate="F", external_id="", comments="", shipping_date="",
                   attorney=None, delivery=None):
    """An order as the sandbox keeps it; what it shows at any moment follows from `created` and
    `fate` ("F", or "DA" when Al-Style cancels it), unless `final` (status, when) overrides it."""
    return {"id": order_id, "created": created, "fate": fate, "final": None, "merge_with": None, "cart": cart,
            "external_id": external_id, "comments": comments, "shipping_date": shipping_date,
            "attorney": attorney, "delivery": delivery}


def make_supplier_orders(rng, *, count, now, products):
    """The partner's order history of the last 60 days, oldest first: mostly done (F), one in ten
    cancelled by Al-Style, the newest two still open, one merged into another (Un)."""
    sellable = list(sellable_products(products).values())
    ages = sorted((rng.randint(3 * 24 * 60, 60 * 24 * 60) for _ in range(max(count - 2, 0))), reverse=True)
    ages += [rng.randint(60, 300), rng.randint(1, 20)][: count]
    orders, order_id = [], FIRST_SUPPLIER_ORDER
    for minutes in ages:
        order_id = next_supplier_order_id(rng, order_id)
        cart = [{"article": p["article"], "name": p["name"], "price": p["price1"], "quantity": rng.randint(1, 3)}
                for p in rng.sample(sellable, min(len(sellable), rng.randint(1, 3)))]
        fate = "DA" if rng.random() < 0.1 else "F"
        orders.append(supplier_order(order_id=order_id, created=now - timedelta(minutes=minutes), cart=cart, fate=fate))
    done = [order for order in orders[:-2] if order["fate"] == "F"]
    if len(done) >= 2:
        merged, into = done[0], done[1]
        merged["final"], merged["merge_with"] = ("Un", into["created"]), into["id"]
    return orders
