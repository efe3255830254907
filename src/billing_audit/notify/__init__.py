"""Delivering alerts beyond SNS's own email: Slack."""
