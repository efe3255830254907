"""Audit runs: fetch, replay, detect, score, store, alert. The one place adapters meet the domain."""
