from django.core.management.base import BaseCommand, CommandError

from catalog import services
from jobs.locks import JobBusy


class Command(BaseCommand):
    help = "Refresh the supplier's stock and prices with the cheap quantity-price call (one sync run)."

    def handle(self, *args, **options):
        try:
            run = services.stock_refresh()
        except (services.SyncError, JobBusy) as exc:
            raise CommandError(f"stock refresh failed: {exc}") from None
        self.stdout.write(
            f"stock refreshed, {run.verdict}: {run.received} received, {run.updated} updated, "
            f"{run.unchanged} unchanged, {run.requests} requests in {run.duration.total_seconds():.1f} s"
        )
