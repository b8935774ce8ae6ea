from django.core.management.base import CommandError
from django.utils.translation import gettext, gettext_lazy, ngettext

from catalog import services
from common.commands import BaseCommand
from jobs.locks import JobBusy


class Command(BaseCommand):
    help = gettext_lazy("Read the supplier's whole catalogue and update the products (one sync run).")

    def handle(self, *args, **options):
        try:
            run = services.products_sync(progress=self.stdout.write)
        except (services.SyncError, JobBusy) as exc:
            raise CommandError(gettext("catalogue sync failed: %(error)s") % {"error": exc}) from None
        counts = [run.counted(field) for field in ("received", "created", "updated", "unchanged", "skipped")]
        counts.append(ngettext("%(count)d gone from the supplier", "%(count)d gone from the supplier", run.vanished)
                      % {"count": run.vanished})
        counts.append(run.counted("requests"))
        self.stdout.write(gettext("catalogue synced, %(verdict)s: %(counts)s in %(seconds).1f s") % {
            "verdict": run.verdict, "counts": ", ".join(counts), "seconds": run.duration.total_seconds()})
        self._show_skipped(run)

    def _show_skipped(self, run):
        for line in [line for line in run.notes.splitlines() if services.is_skipped_note(line)][:5]:
            self.stdout.write(f"  {line}")
