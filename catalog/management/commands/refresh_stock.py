from django.core.management.base import CommandError
from django.utils.translation import gettext, gettext_lazy

from catalog import services
from common.commands import BaseCommand
from jobs.locks import JobBusy


class Command(BaseCommand):
    help = gettext_lazy("Refresh the supplier's stock and prices with the cheap quantity-price call (one sync run).")

    def handle(self, *args, **options):
        try:
            run = services.stock_refresh()
        except (services.SyncError, JobBusy) as exc:
            raise CommandError(gettext("stock refresh failed: %(error)s") % {"error": exc}) from None
        self.stdout.write(gettext("stock refreshed, %(verdict)s: %(counts)s in %(seconds).1f s") % {
            "verdict": run.verdict, "seconds": run.duration.total_seconds(),
            "counts": ", ".join(run.counted(field) for field in ("received", "updated", "unchanged", "requests")),
        })
