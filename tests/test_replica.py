"""Search and record reads may go to a read replica; audit events and all writes stay primary."""

import pytest
from django.conf import settings
from django.db import router

from audit.models import AuditEvent
from contactpoint.routers import replica_reads
from directory.models import Child
from shielding.models import Shield


def test_the_replica_alias_mirrors_the_primary_in_tests():
    assert settings.DATABASES["replica"]["TEST"]["MIRROR"] == "default"


def test_reads_go_to_the_replica_only_where_asked():
    assert Child.objects.all().db == "default"
    with replica_reads():
        assert Child.objects.all().db == "replica"
        assert Shield.objects.all().db == "replica"
        assert AuditEvent.objects.all().db == "default", "the audit log is read on the primary"
        assert router.db_for_write(Child) == "default"
        assert router.db_for_write(AuditEvent) == "default"
    assert Child.objects.all().db == "default"


def test_without_a_replica_every_read_goes_to_the_primary(settings):
    settings.READ_REPLICA = False
    with replica_reads():
        assert Child.objects.all().db == "default"


def test_migrations_run_on_the_primary_only():
    assert router.allow_migrate("default", "directory")
    assert not router.allow_migrate("replica", "directory")


@pytest.mark.django_db
def test_a_record_read_through_the_replica_is_audited_on_the_primary(client):
    from django.urls import reverse

    from tests.personas import make_child, priya, sign_in

    sign_in(client, priya())
    child = make_child()
    assert (
        client.get(reverse("directory:child_record", args=[child.contactpoint_id])).status_code
        == 200
    )
    assert AuditEvent.objects.using("default").filter(child_id=child.pk).exists()
