"""What a failed local deployment raises."""

from __future__ import annotations


class DeployError(RuntimeError):
    """The template did not synthesize or did not deploy into moto."""
