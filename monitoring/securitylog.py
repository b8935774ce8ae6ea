"""The security log's rows: events from every layer arrive through `common.log.security_event` (a
logger) and are kept here, one row each, for the admin page. Loaded by the logging configuration,
before the apps: it touches no model until a record comes."""

import logging

from django.db import DatabaseError, transaction

from common.log import mask_secrets


class SecurityLogHandler(logging.Handler):
    """Saves the security logger's records as `SecurityEvent` rows (LOGGING in settings names it)."""

    def emit(self, record):
        from .models import SecurityEvent

        fields = getattr(record, "security", None)
        if not fields:
            return
        try:
            with transaction.atomic():  # a failure here must not break the transaction it was logged in
                SecurityEvent.objects.create(kind=fields["kind"][:32], user=fields["user"][:150],
                                             address=fields["address"] or None,
                                             message=mask_secrets(record.getMessage())[:1000])
        except DatabaseError:
            self.handleError(record)  # the log files still have it
