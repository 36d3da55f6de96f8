"""The tenant guard: tenant data is reachable only through a scope bound to one tenant."""

from __future__ import annotations

import peewee as pw
import pytest

from server.admin.provisioning import create_agent, create_tenant
from server.ids import new_id
from server.storage.guard import TenantGuardError, TenantScope, cross_tenant
from server.storage.models import Agent, Conversation, Message, Tenant, Visitor


@pytest.fixture(scope="module")
def two_tenants(database: pw.Database) -> tuple[Agent, Agent]:
    for slug in ("alpha", "beta"):
        if Tenant.get_or_none(Tenant.id == slug) is None:
            create_tenant(slug)
    a = create_agent("alpha", "a@alpha.test", "password-a1", name="Alpha Agent")
    b = create_agent("beta", "b@beta.test", "password-b1", name="Beta Agent")
    return a, b


def test_unscoped_select_on_tenant_table_is_refused(two_tenants: tuple[Agent, Agent]) -> None:
    with pytest.raises(TenantGuardError):
        list(Agent.select())


def test_filter_on_other_columns_does_not_count_as_tenant_filter(
    two_tenants: tuple[Agent, Agent],
) -> None:
    a, _ = two_tenants
    with pytest.raises(TenantGuardError):
        Agent.select().where(Agent.id == a.id).first()


def test_tenant_filter_inside_an_or_is_refused(two_tenants: tuple[Agent, Agent]) -> None:
    with pytest.raises(TenantGuardError):
        list(Agent.select().where((Agent.tenant_id == "alpha") | (Agent.email == "b@beta.test")))


def test_unscoped_update_and_delete_are_refused(two_tenants: tuple[Agent, Agent]) -> None:
    with pytest.raises(TenantGuardError):
        Agent.update(name="x").execute()
    with pytest.raises(TenantGuardError):
        Agent.delete().where(Agent.email == "a@alpha.test").execute()
    with pytest.raises(TenantGuardError):
        Agent.get_by_id(two_tenants[0].id)


def test_instance_save_without_scope_is_refused(two_tenants: tuple[Agent, Agent]) -> None:
    agent = TenantScope("alpha").get_or_none(Agent, Agent.email == "a@alpha.test")
    assert agent is not None
    agent.name = "renamed"
    with pytest.raises(TenantGuardError):
        agent.save()


def test_insert_without_tenant_is_refused(two_tenants: tuple[Agent, Agent]) -> None:
    with pytest.raises(TenantGuardError):
        Visitor.insert(id=new_id(), site_id="s").execute()
    with pytest.raises(TenantGuardError):
        Visitor.insert_many([{"id": new_id(), "site_id": "s", "tenant_id": ""}]).execute()


def test_join_needs_a_filter_for_every_tenant_table(two_tenants: tuple[Agent, Agent]) -> None:
    query = (
        Message.select()
        .join(Conversation, on=(Message.conversation_id == Conversation.id))
        .where(Message.tenant_id == "alpha")
    )
    with pytest.raises(TenantGuardError):
        list(query)
    list(query.where(Conversation.tenant_id == "alpha"))


def test_scope_a_never_returns_tenant_b_rows(two_tenants: tuple[Agent, Agent]) -> None:
    _, b = two_tenants
    alpha = TenantScope("alpha")
    assert alpha.get_or_none(Agent, Agent.id == b.id) is None
    assert {row.tenant_id for row in alpha.select(Agent)} == {"alpha"}
    assert alpha.update(Agent, name="hijack").where(Agent.id == b.id).execute() == 0
    assert alpha.delete(Agent).where(Agent.id == b.id).execute() == 0
    assert TenantScope("beta").get_or_none(Agent, Agent.id == b.id).name == "Beta Agent"


def test_scope_create_forces_its_own_tenant(two_tenants: tuple[Agent, Agent]) -> None:
    row = TenantScope("alpha").create(
        Visitor,
        id=new_id(),
        site_id="s",
        tenant_id="beta",  # a caller cannot smuggle a tenant
    )
    assert row.tenant_id == "alpha"
    assert TenantScope("beta").get_or_none(Visitor, Visitor.id == row.id) is None


def test_cross_tenant_is_explicit(two_tenants: tuple[Agent, Agent]) -> None:
    with cross_tenant():
        tenants = {row.tenant_id for row in Agent.select(Agent.tenant_id)}
    assert {"alpha", "beta"} <= tenants
    with pytest.raises(TenantGuardError):
        list(Agent.select())


def test_platform_tables_are_not_guarded(two_tenants: tuple[Agent, Agent]) -> None:
    assert {t.id for t in Tenant.select()} >= {"alpha", "beta"}
