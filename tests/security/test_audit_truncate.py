"""Finding 9 (audit): TRUNCATE of the audit table is refused by a trigger on PostgreSQL."""
import pytest
from django.db import DatabaseError, connection, transaction

from onboarding.audit import record_event
from onboarding.models import AuditEvent
from tests.conftest import requires_postgres
from tests.factories import FirmFactory

pytestmark = pytest.mark.django_db


@requires_postgres
def test_truncate_of_the_audit_trail_is_refused():
    firm = FirmFactory()
    record_event(subject=firm, event_type="test.kept", firm=firm)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK checks pending (they refuse TRUNCATE too)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE onboarding_auditevent CASCADE")
    assert AuditEvent.objects.filter(event_type="test.kept").count() == 1
