"""Widgets of the console, one per module; they never talk to the network."""
