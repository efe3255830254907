"""The Smartsheet side: what the API told us, the SDK adapter, the scan planner and webhook payloads."""
