from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from feeds.validation import count_offers, validate_file


class Command(BaseCommand):
    help = _("Check an XML file against the local Kaspi schema (schemas/kaspishopping.xsd).")

    def add_arguments(self, parser):
        parser.add_argument("path", help=_("The XML file to check."))

    def handle(self, *, path, **options):
        errors = validate_file(path)
        for error in errors:
            self.stderr.write(error)
        if errors:
            raise CommandError(
                _("%(path)s is not a valid Kaspi feed (%(count)d errors).") % {"path": path, "count": len(errors)}
            )
        self.stdout.write(self.style.SUCCESS(_("OK: %(count)d offers") % {"count": count_offers(path)}))
