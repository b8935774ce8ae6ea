from django.core.management.base import BaseCommand, CommandError

from jobs.locks import JobBusy
from orders import sync


class Command(BaseCommand):
    help = "Import Kaspi orders in every state since the last import (or the last --days days)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="read this many days back instead of from the watermark")

    def handle(self, *args, days=None, **options):
        if days is not None and not 1 <= days <= 365:
            raise CommandError("--days must be between 1 and 365")
        try:
            run = sync.orders_sync(days=days, progress=self.stdout.write)
        except (sync.OrderSyncError, JobBusy) as exc:
            raise CommandError(f"order import failed: {exc}") from None
        self.stdout.write(
            f"orders imported, {run.verdict}: {run.received} read, {run.created} new, "
            f"{run.updated} updated, "
            f"{run.unchanged} unchanged, {run.skipped} skipped, {run.requests} requests "
            f"in {run.duration.total_seconds():.1f} s"
        )
