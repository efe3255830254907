"""The access_review function: deployed and scheduled, not built yet (README, "Unfinished").

It fails loudly rather than pretending: every scheduled run raises, so the function-errors alarm
says the feature is missing instead of a silent success.
"""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise NotImplementedError("access_review is not built yet; see the README's Unfinished section")
