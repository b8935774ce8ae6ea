from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from common.format import tenge
from monitoring.charts import bar_chart

from .services import KASPI_LIMIT_DAYS, KASPI_LIMIT_PERCENT, Period, sales_report
from .tables import CONTENT_TYPES, report_tables

MAX_DAYS = 3 * 366
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PeriodForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=DATE)
    end = forms.DateField(label=gettext_lazy("To"), widget=DATE)
    group = forms.ChoiceField(label=gettext_lazy("Charts by"), choices=[
        ("day", gettext_lazy("day")), ("week", gettext_lazy("week")), ("month", gettext_lazy("month"))])

    @staticmethod
    def defaults(today):
        period = Period.default(today)
        return {"start": period.start.isoformat(), "end": period.end.isoformat(), "group": period.group}

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The period ends before it starts."))
        if start and end and (end - start).days >= MAX_DAYS:  # a bar a day of a century is no chart
            raise forms.ValidationError(ngettext("A period is at most %(days)d day long.",
                                                 "A period is at most %(days)d days long.", MAX_DAYS)
                                        % {"days": MAX_DAYS})
        return cleaned

    def period(self):
        return Period(self.cleaned_data["start"], self.cleaned_data["end"], self.cleaned_data["group"])


def reports_page(request):
    """The reports, or one table of them as a file (?download=<table>&format=csv|xlsx). urls.py wraps it
    in `admin_view`, so only staff come here, and of them only those who may see the shop's money stay."""
    if not request.user.has_perm("reports.view_reports"):
        raise PermissionDenied
    form = PeriodForm({**PeriodForm.defaults(timezone.localdate()), **request.GET.dict()})
    context = {**admin.site.each_context(request), "title": _("Reports"), "form": form}
    if not form.is_valid():
        return render(request, "reports/report.html", context)
    period = form.period()
    report = sales_report(period=period)
    tables = report_tables(report)
    if "download" in request.GET:
        table, file_format = tables.get(request.GET["download"]), request.GET.get("format")
        if table is None or file_format not in CONTENT_TYPES:
            raise Http404
        return table.download(file_format, f"{table.name}-{period.start}-{period.end}")
    query = urlencode({"start": period.start, "end": period.end, "group": period.group})
    return render(request, "reports/report.html", {
        **context, "report": report, "totals": _totals(report), "charts": _charts(report),
        "tables": tables.values(), "query": query, "cancelled_by_shop": _cancelled_by_shop(report),
    })


def _totals(report):
    totals = report.totals
    figures = [(_("Revenue"), tenge(totals.revenue)), (_("Profit"), tenge(totals.profit)),
               (_("Orders"), _count(totals.orders)), (_("Average order value"), tenge(totals.average)),
               (_("Units sold"), _count(totals.units))]
    note = ""
    if totals.unknown_cost_lines:
        note = ngettext(
            "Profit leaves out %(count)d sold line whose cost is unknown (%(revenue)s of revenue).",
            "Profit leaves out %(count)d sold lines whose cost is unknown (%(revenue)s of revenue).",
            totals.unknown_cost_lines,
        ) % {"count": totals.unknown_cost_lines, "revenue": tenge(totals.unknown_cost_revenue)}
    return {"figures": figures, "note": note}


def _charts(report):
    labels = [_bucket_labels(day, report.period.group) for day, _sums in report.series]
    metrics = [
        (_("Revenue"), lambda sums: sums.revenue, tenge),
        (_("Profit"), lambda sums: sums.profit or 0, tenge),
        (_("Orders"), lambda sums: sums.orders, _count),
        (_("Average order value"), lambda sums: sums.average or 0, tenge),
        (_("Units sold"), lambda sums: sums.units, _count),
    ]
    charts = []
    for title, value, fmt in metrics:
        bars = [(short, value(sums), f"{long}: {fmt(value(sums))}")
                for (short, long), (_day, sums) in zip(labels, report.series)]
        charts.append({"title": title, "svg": bar_chart(bars, label=title, fmt=fmt)})
    return charts


def _bucket_labels(day, group):
    """The x label and the tooltip's name of the day, week or month that starts on `day`."""
    if group == "month":
        return date_format(day, "m.Y"), date_format(day, "YEAR_MONTH_FORMAT")
    long = date_format(day, "SHORT_DATE_FORMAT")
    if group == "week":
        long = _("week of %(day)s") % {"day": long}
    return date_format(day, "d.m"), long


def _cancelled_by_shop(report):
    percent = report.shop_cancelled_percent
    return {
        "share": "—" if percent is None else f"{number_format(percent, 1)}\u00a0%",
        "above": report.above_kaspi_limit,
        "detail": ngettext(
            "%(cancelled)d of %(count)d order of the last %(days)d days; Kaspi's limit is %(limit)s %%.",
            "%(cancelled)d of %(count)d orders of the last %(days)d days; Kaspi's limit is %(limit)s %%.",
            report.recent_orders,
        ) % {"cancelled": report.recent_shop_cancelled, "count": report.recent_orders, "days": KASPI_LIMIT_DAYS,
             "limit": KASPI_LIMIT_PERCENT},
    }


def _count(number):
    return number_format(number, force_grouping=True)
