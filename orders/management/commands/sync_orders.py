from django.core.management.base import CommandError
from django.utils.translation import gettext, gettext_lazy, ngettext

from common.commands import BaseCommand
from jobs.locks import JobBusy
from orders import sync


class Command(BaseCommand):
    help = gettext_lazy("Import Kaspi orders in every state since the last import (or the last --days days).")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int,
                            help=gettext_lazy("read this many days back instead of from the watermark"))

    def handle(self, *args, days=None, **options):
        if days is not None and not 1 <= days <= 365:
            raise CommandError(gettext("--days must be between 1 and 365"))
        try:
            run = sync.orders_sync(days=days, progress=self.stdout.write)
        except (sync.OrderSyncError, JobBusy) as exc:
            raise CommandError(gettext("order import failed: %(error)s") % {"error": exc}) from None
        counts = [
            ngettext("%(count)d read", "%(count)d read", run.received) % {"count": run.received},
            ngettext("%(count)d new", "%(count)d new", run.created) % {"count": run.created},
            *(run.counted(field) for field in ("updated", "unchanged", "skipped", "requests")),
        ]
        self.stdout.write(gettext("orders imported, %(verdict)s: %(counts)s in %(seconds).1f s") % {
            "verdict": run.verdict, "counts": ", ".join(counts), "seconds": run.duration.total_seconds()})
