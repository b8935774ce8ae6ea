from django.core.management.base import CommandError
from django.utils.translation import gettext, gettext_lazy, ngettext

from catalog.alstyle import AlstyleError
from common.commands import BaseCommand
from jobs.locks import JobBusy
from purchasing.tracking import supplier_orders_sync


class Command(BaseCommand):
    help = gettext_lazy("Propose supplier orders for accepted Kaspi orders, send the approved ones, and record "
                        "Al-Style's statuses of those sent (one run of the job sync_supplier_orders).")

    def handle(self, *args, **options):
        try:
            run = supplier_orders_sync()
        except JobBusy:
            raise CommandError(gettext("another supplier order sync is running; nothing done from here")) from None
        except AlstyleError as exc:
            raise CommandError(gettext("supplier order sync failed: %(error)s") % {"error": exc}) from None
        counts = [
            ngettext("%(count)d proposed", "%(count)d proposed", run.created) % {"count": run.created},
            ngettext("%(count)d sent or settled", "%(count)d sent or settled", run.received) % {"count": run.received},
            ngettext("%(count)d status change", "%(count)d status changes", run.updated) % {"count": run.updated},
            run.counted("requests"),
        ]
        self.stdout.write(gettext("supplier orders, %(verdict)s: %(counts)s in %(seconds).1f s") % {
            "verdict": run.verdict, "counts": ", ".join(counts), "seconds": run.duration.total_seconds()})
