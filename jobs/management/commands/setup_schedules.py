from django.core.management.base import BaseCommand

from jobs.schedules import schedules_upsert


class Command(BaseCommand):
    help = "Create or update every periodic job by name (safe to run on every deploy)."

    def handle(self, *args, **options):
        count, removed = schedules_upsert()
        self.stdout.write(f"{count} schedules up to date, {removed} obsolete removed")
