from django.core.management.base import CommandError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from common.commands import BaseCommand
from feeds.models import FeedRun
from feeds.services import feed_build
from jobs.locks import JobBusy


class Command(BaseCommand):
    help = gettext_lazy("Build the Kaspi price list, validate it and publish it unless the safety guard holds it back.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help=gettext_lazy("Build and validate only; publish nothing."))
        parser.add_argument("--force", action="store_true",
                            help=gettext_lazy("Publish even if the safety guard would hold the feed back."))

    def handle(self, *, dry_run, force, **options):
        self.stdout.write(_("Building the feed…"))
        try:
            run = feed_build(dry_run=dry_run, force=force)
        except JobBusy as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            ngettext(
                "%(offers)d offer, %(available)d available, %(size)s; added %(added)d, removed %(removed)d, "
                "price changes %(prices)d, stock changes %(stock)d; %(seconds).1f s.",
                "%(offers)d offers, %(available)d available, %(size)s; added %(added)d, removed %(removed)d, "
                "price changes %(prices)d, stock changes %(stock)d; %(seconds).1f s.",
                run.offers,
            )
            % {
                "offers": run.offers, "available": run.available_offers, "size": filesizeformat(run.bytes),
                "added": run.added, "removed": run.removed, "prices": run.price_changes, "stock": run.stock_changes,
                "seconds": (run.duration_ms or 0) / 1000,
            }
        )
        if run.outcome not in (FeedRun.Outcome.PUBLISHED, FeedRun.Outcome.DRY_RUN):
            raise CommandError(f"{run.get_outcome_display()}: {run.reason}")
        self.stdout.write(self.style.SUCCESS(f"{run.get_outcome_display()}. {run.reason}".strip()))
