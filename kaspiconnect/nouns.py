"""How the admin names each model inside a phrase, so that Russian reads right.

Django builds its admin phrases from a model's `verbose_name` in the nominative ("Добавить %s",
"N %s"); Russian needs the accusative after a verb ("Добавить категорию") and one of three plural
forms after a number ("1 товар", "2 товара", "5 товаров", "21 товар"). Each model the admin shows
has its two forms here; the templates in templates/admin/ and the `grammar` template tags use them.
A model missing from the table falls back to Django's own words (a test keeps the table complete).
"""

from typing import NamedTuple

from django.utils import formats
from django.utils.translation import npgettext, pgettext_lazy


class Noun(NamedTuple):
    accusative: str  # after a verb: "Add …", "Change …"
    counted: object  # n → "%(count)s …" in the plural form for n


NOUNS = {
    "auth.user": Noun(pgettext_lazy("accusative", "user"),
                      lambda n: npgettext("count", "%(count)s user", "%(count)s users", n)),
    "auth.group": Noun(pgettext_lazy("accusative", "group"),
                       lambda n: npgettext("count", "%(count)s group", "%(count)s groups", n)),
    "django_q.schedule": Noun(pgettext_lazy("accusative", "scheduled task"),
                              lambda n: npgettext("count", "%(count)s scheduled task", "%(count)s scheduled tasks",
                                                  n)),
    "django_q.success": Noun(pgettext_lazy("accusative", "successful task"),
                             lambda n: npgettext("count", "%(count)s successful task", "%(count)s successful tasks",
                                                 n)),
    "django_q.failure": Noun(pgettext_lazy("accusative", "failed task"),
                             lambda n: npgettext("count", "%(count)s failed task", "%(count)s failed tasks", n)),
    "django_q.ormq": Noun(pgettext_lazy("accusative", "queued task"),
                          lambda n: npgettext("count", "%(count)s queued task", "%(count)s queued tasks", n)),
    "axes.accessattempt": Noun(pgettext_lazy("accusative", "access attempt"),
                               lambda n: npgettext("count", "%(count)s access attempt", "%(count)s access attempts",
                                                   n)),
    "axes.accesslog": Noun(pgettext_lazy("accusative", "access log entry"),
                           lambda n: npgettext("count", "%(count)s access log entry", "%(count)s access log entries",
                                               n)),
    "axes.accessfailurelog": Noun(pgettext_lazy("accusative", "access failure"),
                                  lambda n: npgettext("count", "%(count)s access failure", "%(count)s access failures",
                                                      n)),
    "jobs.jobrun": Noun(pgettext_lazy("accusative", "job run"),
                        lambda n: npgettext("count", "%(count)s job run", "%(count)s job runs", n)),
    "catalog.product": Noun(pgettext_lazy("accusative", "product"),
                            lambda n: npgettext("count", "%(count)s product", "%(count)s products", n)),
    "catalog.pricingrule": Noun(pgettext_lazy("accusative", "pricing rule"),
                                lambda n: npgettext("count", "%(count)s pricing rule", "%(count)s pricing rules", n)),
    "catalog.category": Noun(pgettext_lazy("accusative", "category"),
                             lambda n: npgettext("count", "%(count)s category", "%(count)s categories", n)),
    "catalog.brand": Noun(pgettext_lazy("accusative", "brand"),
                          lambda n: npgettext("count", "%(count)s brand", "%(count)s brands", n)),
    "catalog.store": Noun(pgettext_lazy("accusative", "store"),
                          lambda n: npgettext("count", "%(count)s store", "%(count)s stores", n)),
    "catalog.city": Noun(pgettext_lazy("accusative", "city"),
                         lambda n: npgettext("count", "%(count)s city", "%(count)s cities", n)),
    "catalog.pricechange": Noun(pgettext_lazy("accusative", "price change"),
                                lambda n: npgettext("count", "%(count)s price change", "%(count)s price changes", n)),
    "catalog.pricelistimport": Noun(pgettext_lazy("accusative", "price list import"),
                                    lambda n: npgettext("count", "%(count)s price list import",
                                                        "%(count)s price list imports", n)),
    "catalog.listedoffer": Noun(pgettext_lazy("accusative", "listed offer"),
                                lambda n: npgettext("count", "%(count)s listed offer", "%(count)s listed offers", n)),
    "catalog.productexport": Noun(pgettext_lazy("accusative", "product export"),
                                  lambda n: npgettext("count", "%(count)s product export", "%(count)s product exports",
                                                      n)),
    "orders.order": Noun(pgettext_lazy("accusative", "order"),
                         lambda n: npgettext("count", "%(count)s order", "%(count)s orders", n)),
    "orders.orderentry": Noun(pgettext_lazy("accusative", "order line"),
                              lambda n: npgettext("count", "%(count)s order line", "%(count)s order lines", n)),
    "orders.statuschange": Noun(pgettext_lazy("accusative", "status change"),
                                lambda n: npgettext("count", "%(count)s status change", "%(count)s status changes", n)),
    "orders.orderevent": Noun(pgettext_lazy("accusative", "order event"),
                              lambda n: npgettext("count", "%(count)s order event", "%(count)s order events", n)),
    "orders.commissionrate": Noun(pgettext_lazy("accusative", "Kaspi commission rate"),
                                  lambda n: npgettext("count", "%(count)s Kaspi commission rate",
                                                      "%(count)s Kaspi commission rates", n)),
    "feeds.feedrun": Noun(pgettext_lazy("accusative", "feed run"),
                          lambda n: npgettext("count", "%(count)s feed run", "%(count)s feed runs", n)),
    "feeds.feedfetch": Noun(pgettext_lazy("accusative", "feed fetch"),
                            lambda n: npgettext("count", "%(count)s feed fetch", "%(count)s feed fetches", n)),
    "purchasing.supplierorder": Noun(pgettext_lazy("accusative", "supplier order"),
                                     lambda n: npgettext("count", "%(count)s supplier order",
                                                         "%(count)s supplier orders", n)),
    "purchasing.supplierorderline": Noun(pgettext_lazy("accusative", "supplier order line"),
                                         lambda n: npgettext("count", "%(count)s supplier order line",
                                                             "%(count)s supplier order lines", n)),
    "purchasing.supplierorderevent": Noun(pgettext_lazy("accusative", "supplier order event"),
                                          lambda n: npgettext("count", "%(count)s supplier order event",
                                                              "%(count)s supplier order events", n)),
    "monitoring.alert": Noun(pgettext_lazy("accusative", "alert"),
                             lambda n: npgettext("count", "%(count)s alert", "%(count)s alerts", n)),
    "monitoring.securityevent": Noun(pgettext_lazy("accusative", "security event"),
                                     lambda n: npgettext("count", "%(count)s security event",
                                                         "%(count)s security events", n)),
}


def accusative(opts):
    """The model's name after a verb ("Добавить категорию")."""
    noun = NOUNS.get(opts.label_lower)
    return str(noun.accusative) if noun else str(opts.verbose_name)


def counted(opts, count):
    """"21 товар", "2 999 товаров": the number, grouped, and the noun in its form for it."""
    number = formats.number_format(count, force_grouping=True)
    noun = NOUNS.get(opts.label_lower)
    if noun is None:
        return f"{number} {opts.verbose_name if count == 1 else opts.verbose_name_plural}"
    return noun.counted(count) % {"count": number}
