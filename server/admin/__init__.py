"""Tenants, sites, agents, API keys, sessions and the login log."""
