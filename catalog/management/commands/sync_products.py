from django.core.management.base import BaseCommand, CommandError

from catalog import services
from jobs.locks import JobBusy


class Command(BaseCommand):
    help = "Read the supplier's whole catalogue and update the products (one sync run)."

    def handle(self, *args, **options):
        try:
            run = services.products_sync(progress=self.stdout.write)
        except (services.SyncError, JobBusy) as exc:
            raise CommandError(f"catalogue sync failed: {exc}") from None
        self.stdout.write(
            f"catalogue synced, {run.verdict}: {run.received} received, {run.created} created, "
            f"{run.updated} updated, {run.unchanged} unchanged, {run.skipped} skipped, {run.vanished} gone from "
            f"the supplier, {run.requests} requests in {run.duration.total_seconds():.1f} s"
        )
        self._show_skipped(run)

    def _show_skipped(self, run):
        for line in [line for line in run.notes.splitlines() if line.startswith("skipped")][:5]:
            self.stdout.write(f"  {line}")
