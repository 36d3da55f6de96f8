"""Protocol clients that let agents work from chat apps: ``core`` (shared) and one package
per platform. They speak the wire protocol through :mod:`steadywire` and never import
``server`` (BRIDGES.md)."""
