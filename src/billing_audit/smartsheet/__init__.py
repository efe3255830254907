"""The Smartsheet side: what the API told us, the SDK adapter and its webhook calls, callback payloads."""
