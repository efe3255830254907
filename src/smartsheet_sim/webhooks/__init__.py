"""Simulated webhooks: `registry` holds them (registration, status, queued events), `delivery` sends
verification challenges and signed callbacks to their URLs."""
