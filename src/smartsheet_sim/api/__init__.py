"""The simulated Smartsheet API 2.0: every endpoint, by method and OpenAPI path template.

One module per resource family holds the endpoints (`sheets`, `rows`, `cell_history`,
`attachments`, `discussions`, `shares`, `users`, `workspaces_folders`, `webhooks`); `common` holds
what they share and `routing` what an endpoint takes and returns. Answers have the shapes of the
OpenAPI file, or, for what Smartsheet documented after it (container metadata and children, sheet
paths, cursor paging), the shapes smartsheet-python-sdk 4.4.0 reads.
"""

from __future__ import annotations

from smartsheet_sim.api import (
    attachments,
    cell_history,
    discussions,
    events,
    rows,
    shares,
    sheets,
    users,
    webhooks,
    workspaces_folders,
)
from smartsheet_sim.api.routing import Route, match, route

ROUTES: tuple[Route, ...] = (
    route("GET", "/sheets", sheets.list_sheets),
    route("POST", "/sheets", sheets.create_sheet),
    route("GET", "/sheets/{sheetId}", sheets.read_sheet),
    route("GET", "/sheets/{sheetId}/version", sheets.sheet_version),
    route("GET", "/sheets/{sheetId}/columns", sheets.list_columns),
    route("GET", "/sheets/{sheetId}/path", workspaces_folders.sheet_path),
    route("GET", "/sheets/{sheetId}/rows/{rowId}", rows.read_row),
    route(
        "GET",
        "/sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history",
        cell_history.cell_history,
        history_limited=True,
    ),
    route("POST", "/sheets/{sheetId}/rows", rows.add_rows),
    route("PUT", "/sheets/{sheetId}/rows", rows.update_rows),
    route("DELETE", "/sheets/{sheetId}/rows", rows.delete_rows),
    route("GET", "/sheets/{sheetId}/attachments", attachments.list_attachments),
    route("POST", "/sheets/{sheetId}/attachments", attachments.attach_to_sheet),
    route("GET", "/sheets/{sheetId}/attachments/{attachmentId}", attachments.get_attachment),
    route("POST", "/sheets/{sheetId}/attachments/{attachmentId}/versions", attachments.attach_version),
    route("GET", "/sheets/{sheetId}/rows/{rowId}/attachments", attachments.list_row_attachments),
    route("POST", "/sheets/{sheetId}/rows/{rowId}/attachments", attachments.attach_to_row),
    route("GET", "/sheets/{sheetId}/discussions", discussions.list_discussions),
    route("POST", "/sheets/{sheetId}/discussions", discussions.start_on_sheet),
    route("POST", "/sheets/{sheetId}/rows/{rowId}/discussions", discussions.start_on_row),
    route("GET", "/sheets/{sheetId}/shares", shares.list_shares),
    route("GET", "/shares", shares.list_asset_shares),
    route("GET", "/groups/{groupId}", shares.get_group),
    route("GET", "/events", events.list_events),
    route("GET", "/users", users.list_users),
    route("GET", "/users/me", users.current_user),
    route("GET", "/users/{userId}", users.get_user),
    route("GET", "/workspaces", workspaces_folders.list_workspaces),
    route("GET", "/workspaces/{workspaceId}", workspaces_folders.get_workspace),
    route("GET", "/workspaces/{workspaceId}/metadata", workspaces_folders.workspace_metadata),
    route("GET", "/workspaces/{workspaceId}/children", workspaces_folders.workspace_children),
    route("GET", "/folders/{folderId}", workspaces_folders.get_folder),
    route("GET", "/folders/{folderId}/metadata", workspaces_folders.folder_metadata),
    route("GET", "/folders/{folderId}/children", workspaces_folders.folder_children),
    route("GET", "/webhooks", webhooks.list_webhooks),
    route("POST", "/webhooks", webhooks.create_webhook),
    route("GET", "/webhooks/{webhookId}", webhooks.get_webhook),
    route("PUT", "/webhooks/{webhookId}", webhooks.update_webhook, locked=False),
    route("DELETE", "/webhooks/{webhookId}", webhooks.delete_webhook),
    route("POST", "/webhooks/{webhookId}/resetSharedSecret", webhooks.reset_shared_secret),
)
"""Matched in order under /2.0."""

FILE_ROUTE = route("GET", "/files/{attachmentId}", attachments.download_file, authenticated=False)
"""Served outside /2.0 without a token: the temporary download URL of an attachment."""


def match_api(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """The route of a path under /2.0 (see `routing.match`)."""
    return match(ROUTES, method, path)
