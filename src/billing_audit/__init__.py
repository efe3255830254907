"""Billing Audit: keeps billing data in Smartsheet honest."""

__version__ = "0.1.0"
