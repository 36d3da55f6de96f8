"""Opening the admin hub from the desk, over the desk's own login and HTTP session."""

from __future__ import annotations

from typing import Any

from tui_agent.admin_api import AdminApi
from tui_agent.client import SteadydeskClient
from tui_agent.config import SavedSession, config_dir
from tui_agent.screens.admin.base import AdminContext
from tui_agent.screens.admin.hub import AdminHubScreen


def admin_hub(client: SteadydeskClient, app: Any, session: SavedSession) -> AdminHubScreen:
    directory = getattr(app, "directory", None) or config_dir()
    # The client's request keeps the token, the tenant hint and its error mapping.
    api = AdminApi(client._request)
    return AdminHubScreen(AdminContext(api, directory, session.server_url))
