from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy, ngettext

from common.commands import BaseCommand
from feeds.validation import count_offers, validate_file


class Command(BaseCommand):
    help = gettext_lazy("Check an XML file against the local Kaspi schema (schemas/kaspishopping.xsd).")

    def add_arguments(self, parser):
        parser.add_argument("path", help=gettext_lazy("The XML file to check."))

    def handle(self, *, path, **options):
        errors = validate_file(path)
        for error in errors:
            self.stderr.write(error)
        if errors:
            raise CommandError(ngettext("%(path)s is not a valid Kaspi feed (%(count)d error).",
                                        "%(path)s is not a valid Kaspi feed (%(count)d errors).", len(errors))
                               % {"path": path, "count": len(errors)})
        offers = count_offers(path)
        self.stdout.write(self.style.SUCCESS(ngettext("OK: %(count)d offer", "OK: %(count)d offers", offers)
                                             % {"count": offers}))
