from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from catalog.kaspi_pricelist import STATUSES, PriceListError, match_counts, pricelist_import, pricelist_open
from common.commands import BaseCommand


class Command(BaseCommand):
    help = gettext_lazy("Keep the shop's existing Kaspi SKUs: match the offers of its current price list (a file or "
                        "a URL) to products.")

    def add_arguments(self, parser):
        parser.add_argument("location", metavar="PATH_OR_URL",
                            help=gettext_lazy("The price list XML: a file or an http(s) URL."))
        parser.add_argument("--dry-run", action="store_true",
                            help=gettext_lazy("Match and report only; change no product."))

    def handle(self, *, location, dry_run, **options):
        try:
            source, file = pricelist_open(location)
            with file:
                price_list = pricelist_import(file=file, source=source, dry_run=dry_run)
        except PriceListError as exc:
            raise CommandError(str(exc)) from None
        kinds = ", ".join(f"{label} {count}" for label, count in match_counts(price_list).items())
        self.stdout.write(ngettext(
            "%(offers)d offer: %(matched)d matched (%(kinds)s), %(applied)d SKUs kept, %(refused)d refused, "
            "%(unmatched)d unmatched",
            "%(offers)d offers: %(matched)d matched (%(kinds)s), %(applied)d SKUs kept, %(refused)d refused, "
            "%(unmatched)d unmatched", price_list.offers) % {
            "offers": price_list.offers, "matched": price_list.matched, "kinds": kinds,
            "applied": price_list.applied, "refused": price_list.refused, "unmatched": price_list.unmatched})
        if dry_run:
            self.stdout.write(_("dry run: no product was changed"))
        for status, title in [("refused", _("Refused:")), ("unmatched", _("Unmatched:"))]:
            offers = price_list.listed_offers.filter(STATUSES[status]).select_related("product")
            if offers:
                self.stdout.write(title)
            for offer in offers:
                product = f" → {offer.product}" if offer.product else ""
                self.stdout.write(f"  {offer.sku}  {offer.model}{product}: {offer.note}")
