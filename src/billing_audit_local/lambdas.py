"""Invoking the Lambda handlers in process, as the local cloud and the tests do."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from billing_audit_local.paths import functions_dir

_LOADED: dict[str, ModuleType] = {}


@dataclass
class LocalLambdaContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def load_handler(name: str) -> ModuleType:
    """functions/<name>/handler.py as a module (functions/ is not a package: each is its own asset)."""
    if name not in _LOADED:
        path = functions_dir() / name / "handler.py"
        spec = importlib.util.spec_from_file_location(f"billing_audit_function_{name}", path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"no handler at {path}")
        module = importlib.util.module_from_spec(spec)
        # Registered first, as an import would: pydantic resolves the handler's annotations through it.
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _LOADED[name] = module
    return _LOADED[name]


def invoke(name: str, event: dict[str, Any]) -> Any:
    return load_handler(name).handler(event, LocalLambdaContext(function_name=f"billing-audit-{name}"))


@contextmanager
def local_lambda_environment(*, metrics: bool = False, log_level: str = "WARNING") -> Iterator[None]:
    """Powertools settings for handlers run in process: no X-Ray daemon here, quiet unless asked.

    Settings the caller already made win; everything is restored on exit.
    """
    wanted = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": log_level}
    if not metrics:
        wanted["POWERTOOLS_METRICS_DISABLED"] = "true"
    added = [name for name in wanted if name not in os.environ]
    os.environ.update({name: wanted[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
