"""Webhook ingest: the request logic of functions/webhook and the queue side of functions/process.

Kept light on purpose: the webhook function imports this package on its cold start, so nothing
here may import the Smartsheet SDK, the scan pipeline, openpyxl, scikit-learn or pandas.
"""
