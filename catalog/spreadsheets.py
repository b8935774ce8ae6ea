"""Products in and out of spreadsheets (CSV, XLSX), through django-import-export.

The export carries what a manager needs to decide prices. The import changes only what a manager may
change (price, publish, own stock, price limits) of products it finds by SKU or article, and only as a
whole: with one bad row nothing is applied. Everything else in the file is there to read and is ignored.

Each export is remembered (`ProductExport`) and its file carries the export's number, so that its import
changes only the cells the manager edited: the rules, the sync and orders keep moving prices and stock
while the file is open. A file without that column is compared with the catalogue as it is now.
"""

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from import_export.resources import Diff
from import_export.results import Result

from common.spreadsheet import as_text, from_text

from . import services
from .models import PriceChange, Product, ProductExport

LARGEST = 2_147_483_647  # what the positive integer columns hold


def _blank(value):
    return value is None or str(value).strip() == ""


def _text(value):
    """A cell as text: Excel turns a typed SKU such as 50012 into a number, 50012.0 when read back."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


class WholeNumberWidget(widgets.IntegerWidget):
    """A whole number from `minimum` up; an empty cell is None, or an error where the column needs a value."""

    def __init__(self, *, minimum=0, required=False):
        super().__init__()
        self.minimum, self.required = minimum, required

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            if self.required:
                raise ValueError(gettext("This column needs a value."))
            return None
        try:  # "12 990" is how a Russian spreadsheet writes a number
            number = Decimal(_text(value).replace(" ", "").replace("\xa0", ""))
            whole = number.is_finite() and number == number.to_integral_value() and self.minimum <= number <= LARGEST
        except InvalidOperation:
            whole = False
        if not whole:
            raise ValueError(gettext("Expected a whole number from %(minimum)d to %(largest)d, not “%(value)s”.")
                             % {"minimum": self.minimum, "largest": LARGEST, "value": value})
        return int(number)


class TextWidget(widgets.Widget):
    """Text as a spreadsheet shows it, never as a formula it runs: names and brands come from the supplier."""

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else as_text(value)


class YesNoWidget(widgets.BooleanWidget):
    """1 or 0 (or TRUE/FALSE, as Excel writes them); anything else is an error, never a guess."""

    def clean(self, value, row=None, **kwargs):
        value = value.strip() if isinstance(value, str) else value
        if value in self.TRUE_VALUES:
            return True
        if value in self.FALSE_VALUES:
            return False
        raise ValueError(gettext("Expected 1 (yes) or 0 (no), not “%(value)s”.") % {"value": _text(value)})


class ChangeDiff(Diff):
    """The preview shows each changed cell as “old → new” (import-export marks changed characters instead)."""

    def as_html(self):
        return [old if old == new else format_html("{} → {}", old or "—", new or "—")
                for old, new in zip(self.left, self.right)]


class SheetResult(Result):
    """Bad rows numbered as the spreadsheet numbers them: the header is row 1, the first product row 2."""

    def append_invalid_row(self, number, row, validation_error):
        super().append_invalid_row(number + 1, row, validation_error)


def _column(name, label=None, widget=None, *, readonly=False):
    """A column for the model field `name`, headed by its verbose name unless `label` says otherwise."""
    return fields.Field(attribute=name, column_name=label or Product._meta.get_field(name).verbose_name,
                        widget=widget or TextWidget(), readonly=readonly)


def _find(sku, article):
    """(product, "") for the product an SKU (derived, or the shop's own at Kaspi) or an article names, else
    (None, what is wrong). With both, they must name the same product."""
    products = Product.objects.select_related("brand").select_for_update(of=("self",))
    if sku:
        found = list(products.filter(Q(sku=sku) | Q(kaspi_sku=sku))[:2])
        if not found:
            return None, gettext("Unknown SKU “%(sku)s”.") % {"sku": sku}
        if len(found) > 1:
            return None, gettext("SKU “%(sku)s” names two products: give the article instead.") % {"sku": sku}
        if article and found[0].article != article:
            return None, gettext("SKU “%(sku)s” is article %(own)s, not %(article)s.") % {
                "sku": sku, "own": found[0].article, "article": article}
        return found[0], ""
    if article:
        product = products.filter(article=article).first()
        return product, "" if product else gettext("Unknown article %(article)s.") % {"article": article}
    return None, gettext("Neither an SKU nor an article: which product is it?")


class ProductResource(resources.ModelResource):
    sku = _column("feed_sku", Product._meta.get_field("sku").verbose_name, readonly=True)
    article = _column("article", widget=WholeNumberWidget(minimum=1), readonly=True)
    name = _column("name", readonly=True)
    brand = _column("brand__name", _("brand"), readonly=True)
    cost = _column("cost", _("purchase cost, ₸"), widgets.IntegerWidget(), readonly=True)
    price = _column("price", widget=WholeNumberWidget(minimum=1))
    price_locked = _column("price_locked", widget=widgets.BooleanWidget(), readonly=True)
    publish = _column("publish", widget=YesNoWidget())
    own_stock = _column("own_stock", widget=WholeNumberWidget(required=True))
    min_price = _column("min_price", widget=WholeNumberWidget(minimum=1))
    max_price = _column("max_price", widget=WholeNumberWidget(minimum=1))
    supplier_stock = _column("supplier_stock", widget=widgets.IntegerWidget(), readonly=True)
    export_number = fields.Field(column_name=_("export"), readonly=True)  # the same on every row

    class Meta:
        model = Product
        fields = ["sku", "article", "name", "brand", "cost", "price", "price_locked", "publish", "own_stock",
                  "min_price", "max_price", "supplier_stock", "export_number"]
        use_transactions = True
        skip_unchanged = True
        report_skipped = False  # the preview lists exactly the rows that change something

    @classmethod
    def get_diff_class(cls):
        return ChangeDiff

    @classmethod
    def get_result_class(cls):
        return SheetResult

    def writable(self):
        """The model fields an import may change."""
        return [field.attribute for field in self.fields.values() if not field.readonly]

    def get_import_fields(self):
        """The columns the preview shows: the export's number belongs to the file, not to the product."""
        return [field for field in super().get_import_fields() if field is not self.fields["export_number"]]

    def before_export(self, queryset, **kwargs):
        """Remember this export under a new number (and forget the old ones)."""
        ProductExport.objects.filter(created_at__lt=timezone.now() - timedelta(days=ProductExport.KEEP_DAYS)).delete()
        self.snapshot = ProductExport.objects.create(user=kwargs.get("user"))

    def export_resource(self, instance, selected_fields=None, **kwargs):
        self.snapshot.values[str(instance.pk)] = {name: getattr(instance, name) for name in self.writable()}
        return super().export_resource(instance, selected_fields, **kwargs)

    def after_export(self, queryset, dataset, **kwargs):
        self.snapshot.save(update_fields=["values"])

    def dehydrate_export_number(self, product):
        return self.snapshot.pk

    def import_data(self, dataset, **kwargs):
        # All or nothing: import-export would commit the good rows of a file that also has bad ones.
        return super().import_data(dataset, **{**kwargs, "rollback_on_validation_errors": True})

    def before_import(self, dataset, **kwargs):
        """Headers in any of the site's languages are read as the current language's; others stop the import."""
        self.seen, self.limits_moved, self.exports = set(), set(), {}
        while len(dataset) and all(_blank(value) for value in dataset[-1]):
            del dataset[-1]  # the empty lines a spreadsheet keeps at the end
        known = {}
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                known.update({str(field.column_name): field.column_name for field in self.fields.values()})
        headers = [_text(header) for header in dataset.headers]
        unknown = [header or gettext("(no header)") for index, header in enumerate(headers)
                   if header not in known and not (header == "" and all(map(_blank, dataset.get_col(index))))]
        if unknown:
            raise ValueError(gettext("Unknown columns: %(columns)s. Nothing was imported; the columns a file may "
                                     "have are those of the export.") % {"columns": ", ".join(unknown)})
        dataset.headers = [str(known.get(header, header)) for header in headers]
        named = [header for header in dataset.headers if header]
        twice = sorted({header for header in named if named.count(header) > 1})
        if twice:
            raise ValueError(gettext("Columns in the file twice: %(columns)s.") % {"columns": ", ".join(twice)})
        if not {str(self.fields["sku"].column_name), str(self.fields["article"].column_name)} & set(named):
            raise ValueError(gettext("The file needs a column %(sku)s or %(article)s to find the products.") % {
                "sku": self.fields["sku"].column_name, "article": self.fields["article"].column_name})
        self.exports = self._exports(dataset)

    def _exports(self, dataset):
        """The values exported by each export the rows name, by its number as the file writes it. A row without
        a number (every row of a hand-made file) is compared with the catalogue as it is now."""
        column = str(self.fields["export_number"].column_name)
        if column not in dataset.headers:
            return {}
        numbers = {_text(cell) for cell in dataset[column]} - {""}
        ids = [int(number) for number in numbers if number.isdigit() and len(number) < 10]  # others are no number
        exports = {str(pk): values
                   for pk, values in ProductExport.objects.filter(pk__in=ids).values_list("pk", "values")}
        unknown = sorted(numbers - exports.keys())
        if unknown:
            raise ValueError(ngettext(
                "Export %(numbers)s is unknown (exports are kept for %(days)d days): export the products again, or "
                "remove the column “%(column)s” to compare the file with the catalogue as it is now.",
                "Exports %(numbers)s are unknown (exports are kept for %(days)d days): export the products again, "
                "or remove the column “%(column)s” to compare the file with the catalogue as it is now.",
                len(unknown)) % {"numbers": ", ".join(unknown), "days": ProductExport.KEEP_DAYS, "column": column})
        return exports

    def get_or_init_instance(self, instance_loader, row):
        """The product a row names by SKU or article, under lock until the import ends; never a new one."""
        sku_column, article_column = self.fields["sku"].column_name, self.fields["article"].column_name
        sku = from_text(_text(row.get(str(sku_column))))
        try:
            article = self.fields["article"].widget.clean(row.get(str(article_column)))
        except ValueError as exc:
            raise ValidationError({article_column: str(exc)}) from exc
        product, problem = _find(sku, article)
        if product and product.pk in self.seen:
            product, problem = None, gettext("This product is on an earlier row already.")
        if problem:
            raise ValidationError({article_column if article and not sku else sku_column: problem})
        self.seen.add(product.pk)
        return product, False

    def import_instance(self, instance, row, **kwargs):
        export = self.exports.get(_text(row.get(str(self.fields["export_number"].column_name))), {})
        super().import_instance(instance, row, exported=export.get(str(instance.pk)), **kwargs)

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        """A cell still as exported leaves the product as it is now. Own stock moves by the change typed, on top
        of what orders and returns left since, as on the product page."""
        exported = kwargs.pop("exported", None)
        if exported is None or field.attribute not in exported or field.column_name not in row:
            return super().import_field(field, instance, row, is_m2m, **kwargs)
        value, was = field.clean(row, **kwargs), exported[field.attribute]
        if value == was:
            return
        if field.attribute == "own_stock":
            value = services.own_stock_edited(now=instance.own_stock, seen=was, typed=value)
        setattr(instance, field.attribute, value)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """A row's problems, each under the column it is about (import-export names the model field)."""
        errors = dict(import_validation_errors or {})
        try:
            instance.clean()
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if errors:
            raise ValidationError({self.fields[name].column_name: messages for name, messages in errors.items()})

    def save_instance(self, instance, is_create, row, **kwargs):
        """A changed price goes through the service that checks, locks and records it; the rest are plain fields."""
        user = kwargs["user"]
        price, *limits = Product.objects.values_list("price", "min_price", "max_price").get(pk=instance.pk)
        if [instance.min_price, instance.max_price] != limits:
            self.limits_moved.add(instance.pk)
        if instance.price != price:
            try:
                services.product_set_price(product=instance, price=instance.price, user=user,
                                           source=PriceChange.Source.IMPORT)
            except services.PriceRefused as exc:
                raise ValidationError({self.fields["price"].column_name: str(exc)}) from exc
        services.products_set_publish(queryset=Product.objects.filter(pk=instance.pk), publish=instance.publish,
                                      user=user)
        instance.save(update_fields=["own_stock", "min_price", "max_price", "updated_at"])

    def after_import(self, dataset, result, **kwargs):
        """New price limits take effect at once, as on the product page (a locked price stays as it is)."""
        super().after_import(dataset, result, **kwargs)
        if self.limits_moved and not kwargs.get("dry_run"):
            services.products_reprice(queryset=Product.objects.filter(pk__in=self.limits_moved), user=kwargs["user"])


def import_problems(result):
    """What stopped an import, one line each: the file's own problems, then each bad row's."""
    lines = [str(error.error) for error in result.base_errors]
    lines += [str(error.error) for _number, errors in result.row_errors() for error in errors]
    lines += [gettext("row %(row)s: %(problem)s") % {
        "row": row.number, "problem": " ".join(message for messages in row.error_dict.values() for message in messages)}
        for row in result.invalid_rows]
    return lines
