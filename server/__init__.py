"""Steadydesk server: a Sanic gateway over transport-free domain actions."""

__version__ = "0.1.0"
