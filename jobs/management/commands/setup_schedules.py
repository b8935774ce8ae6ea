from django.utils.translation import gettext_lazy, ngettext

from common.commands import BaseCommand
from jobs.schedules import schedules_upsert


class Command(BaseCommand):
    help = gettext_lazy("Create or update every periodic job by name (safe to run on every deploy).")

    def handle(self, *args, **options):
        count, removed = schedules_upsert()
        self.stdout.write(", ".join([
            ngettext("%(count)d schedule up to date", "%(count)d schedules up to date", count) % {"count": count},
            ngettext("%(count)d obsolete removed", "%(count)d obsolete removed", removed) % {"count": removed},
        ]))
