from django.db import models
from django.utils.translation import gettext_lazy as _


class Report(models.Model):  # noqa: DJ008 (it has no rows to name)
    """No table: Django keeps permissions per model, and the reports' one needs a model to belong to."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_reports", _("Can see the sales reports (revenue, profit, cancellations)"))]
