import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from catalog.models import PriceChange, PricingRule, Product, ProductExport
from feeds.services import feed_build
from tests.test_feed_build import NS, offer_element, published_feed

CSV, XLSX = "0", "1"  # the admin's formats, in order
SKU, PRICE, PUBLISH = "Kaspi SKU", "Kaspi price, ₸", "publish"
MIN, MAX = "minimum price, ₸", "maximum price, ₸"
OWN, EXPORT = "own stock", "export"


@pytest.fixture
def products(make_product, store):
    return [make_product(sku=f"S{i}", brand="Xiaomi") for i in range(6)]


def export(client, query="", file_format=XLSX):
    return client.post(reverse("admin:catalog_product_export") + query, {"format": file_format, "resource": "0"})


def exported_sheet(client, query=""):
    response = export(client, query)
    assert response.status_code == 200, response.content[:500]
    return openpyxl.load_workbook(io.BytesIO(response.content)).active


def edit(sheet, sku, column, value, sku_column=SKU):
    """Write `value` in the row of product `sku`; returns the row's number in the sheet."""
    headers = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[headers.index(sku_column)].value == sku:
            row[headers.index(column)].value = value
            return row[0].row
    raise AssertionError(f"{sku} is not in the sheet")


def xlsx(sheet):
    buffer = io.BytesIO()
    sheet.parent.save(buffer)
    return buffer.getvalue()


def preview(client, content, file_format=XLSX, name="products.xlsx"):
    return client.post(reverse("admin:catalog_product_import"), {
        "resource": "0", "format": file_format, "import_file": SimpleUploadedFile(name, content)})


def preview_csv(client, *rows):
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return preview(client, text.getvalue().encode(), CSV, "products.csv")


def confirm(client, response):
    form = response.context["confirm_form"]
    assert form is not None, response.content.decode()
    return client.post(reverse("admin:catalog_product_process_import"), form.initial, follow=True)


def changed_ids(response):
    return sorted(row.object_id for row in response.context["result"].valid_rows())


def row_problems(response):
    return {row.number: " ".join(message for messages in row.error_dict.values() for message in messages)
            for row in response.context["result"].invalid_rows}


def test_it_round_trips_an_edited_export_and_applies_nothing_until_every_row_is_right(
        admin_client, admin_user, products):
    sheet = exported_sheet(admin_client)
    for product, price in zip(products[:3], [13990, 14990, 15990], strict=True):
        edit(sheet, product.sku, PRICE, price)
    edit(sheet, products[3].sku, PUBLISH, False)
    bad_row = edit(sheet, products[4].sku, PRICE, "дорого")

    response = preview(admin_client, xlsx(sheet))

    assert changed_ids(response) == sorted(p.pk for p in products[:4])
    assert row_problems(response) == {bad_row: "Expected a whole number from 1 to 2147483647, not “дорого”."}
    assert response.context.get("confirm_form") is None
    page = response.content.decode()
    assert "12990 → 13990" in page and "Confirm import" not in page
    assert set(Product.objects.values_list("price", "price_locked", "publish")) == {(12990, False, True)}

    edit(sheet, products[4].sku, PRICE, 12990)
    response = preview(admin_client, xlsx(sheet))
    assert changed_ids(response) == sorted(p.pk for p in products[:4]) and not row_problems(response)
    assert "Import finished: 0 new, 4 updated" in confirm(admin_client, response).content.decode()

    rows = {p.sku: p for p in Product.objects.all()}
    assert [(rows[p.sku].price, rows[p.sku].price_locked) for p in products[:3]] == [
        (13990, True), (14990, True), (15990, True)]
    assert (rows[products[3].sku].publish, rows[products[3].sku].price_locked) == (False, False)
    assert {(c.product.sku, c.old_price, c.new_price, c.source, c.user) for c in PriceChange.objects.all()} == {
        (p.sku, 12990, price, PriceChange.Source.IMPORT, admin_user)
        for p, price in zip(products[:3], [13990, 14990, 15990], strict=True)}
    feed_build()
    root = published_feed()
    assert [offer_element(root, p.sku).findtext("k:price", namespaces=NS) for p in products[:3]] == [
        "13990", "14990", "15990"]


def test_it_imports_a_csv_with_just_the_columns_it_changes(admin_client, products):
    response = preview_csv(admin_client, [SKU, PRICE, "own stock", MIN], ["S1", 11990, 2, 11000], ["S2", 12990, 0, ""],
                           ["", "", "", ""])  # a spreadsheet's empty last line is no row

    assert changed_ids(response) == [products[1].pk]
    confirm(admin_client, response)
    product = Product.objects.get(sku="S1")
    assert (product.price, product.price_locked, product.own_stock, product.min_price) == (11990, True, 2, 11000)


def test_it_finds_products_by_article_alone(admin_client, products):
    response = preview_csv(admin_client, ["Al-Style article", "own stock"], [products[2].article, 4])

    confirm(admin_client, response)
    assert Product.objects.get(pk=products[2].pk).own_stock == 4


def test_it_reports_unknown_columns_for_the_whole_file(admin_client, products):
    response = preview_csv(admin_client, [SKU, PRICE, "colour", "weight"], ["S1", 11990, "red", 1])

    assert [str(e.error) for e in response.context["result"].base_errors] == [
        "Unknown columns: colour, weight. Nothing was imported; the columns a file may have are those of the export."]
    page = response.content.decode()
    assert "Unknown columns: colour, weight." in page and "Traceback" not in page
    assert response.context.get("confirm_form") is None


@pytest.mark.parametrize("header, cells, problem", [
    ([SKU, PRICE], ["NOPE", 11990], "Unknown SKU “NOPE”."),
    ([SKU, "Al-Style article", PRICE], ["", "", 11990], "Neither an SKU nor an article: which product is it?"),
    ([SKU, PRICE], ["S1", "12.5"], "Expected a whole number from 1 to 2147483647, not “12.5”."),
    ([SKU, "own stock"], ["S1", -1], "Expected a whole number from 0 to 2147483647, not “-1”."),
    ([SKU, "own stock"], ["S1", ""], "This column needs a value."),
    ([SKU, PUBLISH], ["S1", "yes"], "Expected 1 (yes) or 0 (no), not “yes”."),
    ([SKU, MIN, MAX], ["S1", 15000, 14000], "The maximum price is below the minimum price."),
    ([SKU, PRICE], ["S1", 5000], "5\xa0000\xa0₸ is below the purchase cost of 10\xa0000\xa0₸: refused."),
])
def test_it_refuses_a_bad_row_with_its_row_number(admin_client, products, header, cells, problem):
    response = preview_csv(admin_client, header, cells)

    problems = row_problems(response)
    assert list(problems) == [2] and problems[2].startswith(problem)
    assert response.context.get("confirm_form") is None


def test_it_refuses_an_sku_and_an_article_of_different_products(admin_client, products):
    response = preview_csv(admin_client, [SKU, "Al-Style article", PRICE], ["S1", products[2].article, 11990])

    assert row_problems(response) == {2: f"SKU “S1” is article {products[1].article}, not {products[2].article}."}


def test_it_refuses_a_product_listed_twice(admin_client, products):
    response = preview_csv(admin_client, [SKU, PRICE], ["S1", 11990], ["S1", 13990])

    assert row_problems(response) == {3: "This product is on an earlier row already."}


def test_a_confirmation_checks_again_and_applies_nothing_when_the_catalogue_moved(admin_client, products):
    response = preview_csv(admin_client, [SKU, PRICE], ["S1", 11990], ["S2", 10990])
    Product.objects.filter(sku="S2").update(purchase_price=11000)  # the supplier's price rose meanwhile

    page = confirm(admin_client, response).content.decode()

    assert "Nothing was imported: row 3: 10\xa0990\xa0₸ is below the purchase cost" in page
    assert set(Product.objects.values_list("price", "price_locked")) == {(12990, False)}
    assert not PriceChange.objects.exists()


def test_the_export_holds_what_the_filtered_or_searched_list_shows(admin_client, products):
    Product.objects.filter(pk__in=[products[1].pk, products[4].pk]).update(publish=False)

    sheet = exported_sheet(admin_client, "?publish__exact=0")

    rows = list(sheet.values)
    assert rows[0] == ("Kaspi SKU", "Al-Style article", "name", "brand", "purchase cost, ₸", "Kaspi price, ₸",
                       "price locked", "publish", "own stock", "minimum price, ₸", "maximum price, ₸",
                       "supplier stock", "export")
    assert sorted(row[0] for row in rows[1:]) == ["S1", "S4"]
    assert rows[1][2:9] == (products[1].name, "Xiaomi", 10000, 12990, False, False, 0)
    list_page = admin_client.get(reverse("admin:catalog_product_changelist"), {"publish__exact": "0"})
    assert reverse("admin:catalog_product_export") + "?publish__exact=0" in list_page.content.decode()
    assert [row[0] for row in list(exported_sheet(admin_client, "?q=S4").values)[1:]] == ["S4"]


def test_the_export_carries_the_shops_own_kaspi_sku_and_the_import_finds_it(admin_client, products):
    Product.objects.filter(pk=products[0].pk).update(kaspi_sku="OWN-1")
    assert "OWN-1" in export(admin_client, file_format=CSV).content.decode()

    confirm(admin_client, preview_csv(admin_client, [SKU, PRICE], ["OWN-1", 11990]))
    assert Product.objects.get(pk=products[0].pk).price == 11990


def test_viewing_products_allows_the_export_and_only_changing_them_the_import(client, products):
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_product"))
    client.force_login(viewer)

    assert export(client).status_code == 200
    list_page = client.get(reverse("admin:catalog_product_changelist")).content.decode()
    assert reverse("admin:catalog_product_export") in list_page
    assert reverse("admin:catalog_product_import") not in list_page
    assert client.get(reverse("admin:catalog_product_import")).status_code == 403
    assert preview_csv(client, [SKU, PRICE], ["S1", 11990]).status_code == 403
    assert client.post(reverse("admin:catalog_product_process_import"), {}).status_code == 403


@pytest.mark.russian
def test_the_import_pages_render_in_russian(admin_client, products):
    assert "Импорт" in admin_client.get(reverse("admin:catalog_product_import")).content.decode()
    assert admin_client.get(reverse("admin:catalog_product_export")).status_code == 200
    sheet = exported_sheet(admin_client)
    edit(sheet, "S1", "цена на Kaspi, ₸", 13990, sku_column="SKU в Kaspi")
    edit(sheet, "S2", "цена на Kaspi, ₸", "x", sku_column="SKU в Kaspi")

    page = preview(admin_client, xlsx(sheet)).content.decode()

    assert "Некоторые строки не прошли валидацию" in page and "Предпросмотр" in page and "12990 → 13990" in page
    assert changed_ids(preview_csv(admin_client, [SKU, PRICE], ["S1", 11990])) == [products[1].pk]  # English headers


def test_an_import_of_an_export_applies_only_the_cells_edited_in_it(admin_client, admin_user, products):
    Product.objects.filter(sku__in=["S3", "S4"]).update(own_stock=5)
    sheet = exported_sheet(admin_client)
    Product.objects.filter(sku="S1").update(price=13990)  # the rules repriced it after the export
    Product.objects.filter(sku__in=["S3", "S4"]).update(own_stock=3)  # orders took two of each
    edit(sheet, "S2", PUBLISH, False)
    edit(sheet, "S3", OWN, 6)  # one more unit on the shelf
    edit(sheet, "S4", OWN, 0)  # all five gone, as the manager counts

    response = preview(admin_client, xlsx(sheet))

    assert changed_ids(response) == [products[2].pk, products[3].pk, products[4].pk]
    page = response.content.decode()
    assert "3 → 4" in page and "3 → 0" in page and "13990" not in page
    confirm(admin_client, response)
    rows = {p.sku: p for p in Product.objects.all()}
    assert (rows["S1"].price, rows["S1"].price_locked) == (13990, False) and not PriceChange.objects.exists()
    assert (rows["S2"].publish, rows["S3"].own_stock, rows["S4"].own_stock) == (False, 4, 0)
    assert ProductExport.objects.get().user == admin_user


@pytest.mark.parametrize("number", ["999", "x"])
def test_it_refuses_a_file_of_an_unknown_export(admin_client, products, number):
    response = preview_csv(admin_client, [SKU, PRICE, EXPORT], ["S1", 11990, number])

    assert [str(e.error) for e in response.context["result"].base_errors] == [
        f"Export {number} is unknown (exports are kept for 90 days): export the products again, or remove the "
        "column “export” to compare the file with the catalogue as it is now."]
    assert response.context.get("confirm_form") is None


def test_an_export_forgets_exports_older_than_90_days(admin_client, products):
    old = ProductExport.objects.create(created_at=timezone.now() - timedelta(days=91))
    recent = ProductExport.objects.create(created_at=timezone.now() - timedelta(days=89))

    sheet = exported_sheet(admin_client)

    assert set(ProductExport.objects.values_list("pk", flat=True)) == {recent.pk, sheet["M2"].value}
    assert old.pk != sheet["M2"].value


def test_the_export_keeps_supplier_text_that_a_spreadsheet_would_run_as_text(admin_client, make_product, store):
    product = make_product(name='=HYPERLINK("http://evil","x")', brand="@evil", kaspi_sku="-K1")

    sheet = exported_sheet(admin_client)

    assert [(cell.value, cell.data_type) for cell in (sheet["A2"], sheet["C2"], sheet["D2"])] == [
        ("'-K1", "s"), ("'=HYPERLINK(\"http://evil\",\"x\")", "s"), ("'@evil", "s")]
    assert "'=HYPERLINK(" in export(admin_client, file_format=CSV).content.decode()
    edit(sheet, "'-K1", PRICE, 13990)
    confirm(admin_client, preview(admin_client, xlsx(sheet)))
    assert Product.objects.get(pk=product.pk).price == 13990


def test_price_limits_set_by_an_import_apply_at_once(admin_client, admin_user, products):
    PricingRule.objects.create(name="markup", markup_percent=30, rounding="10")

    confirm(admin_client, preview_csv(admin_client, [SKU, MAX], ["S1", 12000], ["S2", ""]))

    assert Product.objects.get(sku="S1").price == 12000 and not Product.objects.get(sku="S1").price_locked
    assert Product.objects.get(sku="S2").price == 12990  # no limit moved: the next refresh reprices it
    assert list(PriceChange.objects.values_list("product__sku", "new_price", "source", "user")) == [
        ("S1", 12000, PriceChange.Source.RULES, admin_user.pk)]
