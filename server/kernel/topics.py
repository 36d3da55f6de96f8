"""Bus topic names (see server.bus for what each carries)."""


def conversation(conv_id: str) -> str:
    return f"conv:{conv_id}"


def agents(tenant_id: str) -> str:
    return f"agents:{tenant_id}"


def visitor(visitor_id: str) -> str:
    return f"visitor:{visitor_id}"


def agent(agent_id: str) -> str:
    return f"agent:{agent_id}"


def bridge(bridge_id: str) -> str:
    return f"bridge:{bridge_id}"


def site(site_id: str) -> str:
    return f"site:{site_id}"


def settings() -> str:
    """Every node's: a tenant's settings changed (the tenant is in the signal)."""
    return "settings"


def monitor(tenant_id: str) -> str:
    """The live monitor's feed: visitors arriving, leaving, moving (admins who subscribe)."""
    return f"monitor:{tenant_id}"
