"""Search and record reads may go to a read replica; audit events and all writes stay primary."""

import pytest
from django.conf import settings
from django.db import OperationalError, router
from django.urls import reverse

from audit.models import AuditEvent
from contactpoint.routers import replica_reads
from directory.models import Child
from shielding.models import Shield
from tests.personas import (
    make_address,
    make_child,
    priya,
    rebuild_keys,
    sign_in,
    unreachable_database,
)


def test_the_replica_alias_mirrors_the_primary_in_tests():
    assert settings.DATABASES["replica"]["TEST"]["MIRROR"] == "default"


@pytest.mark.django_db
def test_reads_go_to_the_replica_only_where_asked():
    assert Child.objects.all().db == "default"
    with replica_reads():
        assert Child.objects.all().db == "replica"
        assert Shield.objects.all().db == "default", "whether to mask is decided on the primary"
        assert AuditEvent.objects.all().db == "default", "the audit log is read on the primary"
        assert router.db_for_write(Child) == "default"
        assert router.db_for_write(AuditEvent) == "default"
    assert Child.objects.all().db == "default"


@pytest.mark.django_db
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

    from tests.personas import (
        make_child,
        priya,
        sign_in,
    )

    sign_in(client, priya())
    child = make_child()
    assert (
        client.get(reverse("directory:child_record", args=[child.contactpoint_id])).status_code
        == 200
    )
    assert AuditEvent.objects.using("default").filter(child_id=child.pk).exists()


@pytest.mark.django_db
def test_search_and_record_pages_read_children_on_the_replica_and_shields_on_the_primary(
    client, monkeypatch
):
    from datetime import date

    from django.urls import reverse

    from contactpoint.routers import PrimaryReplicaRouter
    from tests.personas import make_child, priya, rebuild_keys, shield, sign_in

    reads: set[tuple[str, str]] = set()
    routed = PrimaryReplicaRouter.db_for_read

    def spy(self, model, **hints):
        alias = routed(self, model, **hints)
        reads.add((model.__name__, alias))
        return alias

    monkeypatch.setattr(PrimaryReplicaRouter, "db_for_read", spy)
    sign_in(client, priya())
    child = make_child(given_name="Ada", family_name="Quill", date_of_birth=date(2016, 5, 2))
    rebuild_keys(child)
    shield(child)
    found = client.post(reverse("directory:search"), {"surname": "Quill", "forename": "Ada"})
    assert child.contactpoint_id in found.content.decode()
    record = client.get(reverse("directory:child_record", args=[child.contactpoint_id]))
    assert record.status_code == 200
    assert ("Child", "replica") in reads
    assert ("Shield", "replica") not in reads and ("Shield", "default") in reads
    assert not any(model == "AuditEvent" and alias == "replica" for model, alias in reads)


@pytest.mark.django_db
def test_a_child_shielded_while_a_postcode_search_runs_is_not_found(client, monkeypatch):
    """What a replica a moment behind the primary looks like: the candidates were read before
    the shield existed; the primary, which decides, has it."""
    from datetime import date

    from django.urls import reverse

    from directory import search
    from tests.personas import make_address, make_child, priya, rebuild_keys, shield, sign_in

    sign_in(client, priya())
    child = make_child(given_name="Ada", family_name="Quill", date_of_birth=date(2016, 5, 2))
    make_address(child, "NE1 4ST")
    rebuild_keys(child)
    scored = search.score

    def shielded_meanwhile(criteria, candidate):
        if not Shield.objects.filter(child=child).exists():
            shield(child)
        return scored(criteria, candidate)

    monkeypatch.setattr(search, "score", shielded_meanwhile)
    page = client.post(
        reverse("directory:search"),
        {"surname": "Quill", "forename": "Ada", "postcode": "NE1 4ST"},
    ).content.decode()
    assert Shield.objects.filter(child=child).exists()
    assert child.contactpoint_id not in page
    assert "No children found" in page


@pytest.mark.django_db
def test_a_postcode_search_decides_who_is_shielded_on_the_primary(client, monkeypatch):
    """Every query that reads shields runs on the primary, the postcode search's candidate
    query among them (shields are part of what it counts)."""
    from django.db.models.sql import compiler
    from django.urls import reverse

    from tests.personas import make_address, make_child, priya, rebuild_keys, sign_in

    ran: list[tuple[str, str]] = []
    execute = compiler.SQLCompiler.execute_sql

    def spy(self, *args, **kwargs):
        ran.append((self.using, self.as_sql()[0]))
        return execute(self, *args, **kwargs)

    sign_in(client, priya())
    child = make_child()
    make_address(child, "NE1 4ST")
    rebuild_keys(child)
    monkeypatch.setattr(compiler.SQLCompiler, "execute_sql", spy)
    page = client.post(reverse("directory:search"), {"surname": "Hart", "postcode": "NE1 4ST"})
    assert child.contactpoint_id in page.content.decode()
    assert any(using == "replica" for using, _ in ran), "the replica serves the other reads"
    shield_reads = [using for using, sql in ran if "shielding_shield" in sql]
    assert shield_reads and set(shield_reads) == {"default"}, ran


def _replica_refuses(monkeypatch) -> None:
    """The replica is down, the primary up. In tests the replica alias is the primary's
    connection, so the outage is made where queries are sent."""
    from django.db.models.sql import compiler

    execute = compiler.SQLCompiler.execute_sql

    def refused_on_the_replica(self, *args, **kwargs):
        if self.using == "replica":
            raise OperationalError("connection to server at the replica failed")
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(compiler.SQLCompiler, "execute_sql", refused_on_the_replica)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["record", "search"])
def test_while_the_replica_is_down_its_pages_say_the_service_is_unavailable(
    client, monkeypatch, settings, page
):
    """The 503 page a database outage gives, not a 500 server error; and no data shown."""
    settings.READ_REPLICA = True
    sign_in(client, priya())
    child = make_child()
    client.raise_request_exception = False
    _replica_refuses(monkeypatch)
    if page == "record":
        response = client.get(reverse("directory:child_record", args=[child.contactpoint_id]))
    else:
        response = client.post(reverse("directory:search"), {"surname": "Hart", "forename": "A"})
    assert response.status_code == 503
    assert "Amelia" not in response.content.decode()


@pytest.mark.django_db
def test_while_the_replica_takes_no_connections_search_and_record_read_the_primary(
    client, monkeypatch, settings
):
    """A replica that is down does not take the service down: its reads go to the primary,
    and the replica is tried again after ``REPLICA_RETRY_SECONDS``, not on every request."""
    from django.db import connections

    from contactpoint import routers

    monkeypatch.setattr(routers, "_replica_down_until", 0.0)
    settings.READ_REPLICA = True
    sign_in(client, priya())
    child = make_child()
    make_address(child)
    rebuild_keys(child)
    working = connections["replica"]
    connections["replica"] = unreachable_database("replica")
    try:
        record = client.get(reverse("directory:child_record", args=[child.contactpoint_id]))
        found = client.post(reverse("directory:search"), {"surname": "Hart", "postcode": "NE1 4ST"})
        with replica_reads():
            assert Child.objects.all().db == "default", "not tried again at once"
        monkeypatch.setattr(routers, "_replica_down_until", 0.0)  # the retry period is over
        with replica_reads():
            assert Child.objects.all().db == "default", "tried again, and still down"
    finally:
        connections["replica"] = working
    assert record.status_code == 200 and "Amelia" in record.content.decode()
    assert found.status_code == 200 and child.contactpoint_id in found.content.decode()
    assert AuditEvent.objects.filter(child_id=child.pk).exists()
    monkeypatch.setattr(routers, "_replica_down_until", 0.0)
    with replica_reads():
        assert Child.objects.all().db == "replica", "back on the replica once it answers"
