from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from catalog.models import skus_kept

        skus_kept.connect(link_kept_skus, dispatch_uid="orders.link_kept_skus")


def link_kept_skus(sender, *, kept, **kwargs):
    """Lines stored before their product kept the shop's SKU link to it now (profit, stock)."""
    from .reading import order_entries_link

    order_entries_link(kept=kept)
