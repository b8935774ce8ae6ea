"""The reports' tables: one definition serves the page and its CSV and XLSX downloads, so a file holds
the rows the page shows, as plain values (whole tenge as numbers)."""

from dataclasses import dataclass

import tablib
from django.http import HttpResponse
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from common.format import tenge
from common.spreadsheet import as_text
from orders.models import StatusChange

from .services import SHOP_FAULT_REASONS, TOP

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass
class Column:
    title: str
    kind: str = "text"  # text, code (Kaspi's, shown small), count or money: how the page shows a value

    @property
    def numeric(self):
        return self.kind in ("count", "money")


@dataclass
class Table:
    name: str  # the ?download= value
    title: str
    columns: list
    rows: list  # tuples of plain values, as the downloads hold them
    empty: str

    def cells(self):
        """The rows as the page shows them: (text, CSS class) for each cell."""
        return [[_cell(value, column) for value, column in zip(row, self.columns)] for row in self.rows]

    def download(self, file_format, filename):
        rows = [[value if column.numeric else as_text(value) for value, column in zip(row, self.columns)]
                for row in self.rows]
        data = tablib.Dataset(*rows, headers=[column.title for column in self.columns], title=self.title)
        body = data.export(file_format)
        if file_format == "csv":
            body = "\ufeff" + body  # the byte order mark makes Excel read the file as UTF-8
        response = HttpResponse(body, content_type=CONTENT_TYPES[file_format])
        response["Content-Disposition"] = f'attachment; filename="{filename}.{file_format}"'
        return response


def report_tables(report):
    """The page's tables by name, in the order it shows them."""
    tables = [
        _products("top_products", ngettext("Top %(count)d product by profit",
                                           "Top %(count)d products by profit", TOP) % {"count": TOP},
                  report.top_products),
        _products("bottom_products", ngettext("Bottom %(count)d product by profit",
                                              "Bottom %(count)d products by profit", TOP) % {
            "count": TOP},
                  report.bottom_products),
        _products("losing_products", _("Products selling at a loss"), report.losing_products,
                  empty=_("No product sold at a loss in this period.")),
        Table("categories", _("Categories by profit"), [
            Column(_("Kaspi category")), *_sums_columns(),
        ], [(title or _("no category"), *_sums(sums)) for title, sums in report.categories],
            _("Nothing was sold in this period.")),
        Table("cancellations", _("Cancellations by reason"), [
            Column(_("Reason")), Column(_("Kaspi's code"), "code"), Column(_("The shop's fault")),
            Column(_("Orders"), "count"), Column(_("Amount, ₸"), "money"),
        ], [(_reason(code), code, _("yes") if code in SHOP_FAULT_REASONS else _("no"), orders, amount)
            for code, orders, amount in report.cancellations],
            _("No order was cancelled in this period.")),
    ]
    return {table.name: table for table in tables}


def _products(name, title, rows, empty=None):
    columns = [Column(_("SKU")), Column(_("Product")), *_sums_columns()]
    return Table(name, title, columns, [(sku, product, *_sums(sums)) for sku, product, sums in rows],
                 empty or _("Nothing with a known cost was sold in this period."))


def _sums_columns():
    return [Column(_("Orders"), "count"), Column(_("Units"), "count"), Column(_("Revenue, ₸"), "money"),
            Column(_("Profit, ₸"), "money"), Column(_("Lines without cost"), "count")]


def _sums(sums):
    return sums.orders, sums.units, sums.revenue, sums.profit, sums.unknown_cost_lines


def _reason(code):
    if not code:
        return _("no reason given")
    return capfirst(dict(StatusChange.Reason.choices).get(code, code))


def _cell(value, column):
    if not column.numeric:
        return value, "kc-code" if column.kind == "code" else ""
    shown = tenge(value) if column.kind == "money" else number_format(value, force_grouping=True)
    return shown, "kc-number kc-loss" if value is not None and value < 0 else "kc-number"
