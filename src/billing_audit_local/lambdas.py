"""The Lambda handlers run in process, as the local cloud, the demo and the tests run them.

- `load_handler(name)` is functions/<name>/handler.py as a module, loaded once per process (one
  warm container); `load_handler(name, fresh=True)` loads a new copy each time (a cold start:
  module-level state, such as per-container deps, starts empty).
- `LocalLambdaContext` is the context object the handlers and Powertools read, with a deadline
  (`get_remaining_time_in_millis` counts down from `timeout_seconds`).
- `invoke(name, event)` calls a handler the way Lambda would.
- `local_lambda_environment()` sets the Powertools settings that suit in-process runs.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from billing_audit.resources import APP_NAME
from billing_audit_local.environment import REGION, process_environment
from billing_audit_local.paths import FUNCTIONS_DIR_ENV, functions_dir

ACCOUNT_ID = "123456789012"  # moto's default account
# The product's function defaults (infra/constructs/function.py).
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MEMORY_MB = 256

Handler = Callable[[dict[str, Any], Any], Any]

_WARM: dict[str, ModuleType] = {}
_cold_starts = itertools.count(1)


@dataclass
class LocalLambdaContext:
    """What Powertools and the handlers read from a LambdaContext; the deadline starts at creation."""

    function_name: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    memory_limit_in_mb: int = DEFAULT_MEMORY_MB
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # The clock the deadline runs on: wall time, or the simulator's when its waits are virtual.
    clock: Callable[[], float] = time.monotonic
    _started: float = field(init=False)

    def __post_init__(self) -> None:
        self._started = self.clock()

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (self.clock() - self._started)) * 1000))


def load_handler(name: str, *, fresh: bool = False) -> ModuleType:
    """functions/<name>/handler.py as a module (functions/ is not a package: each is its own asset).

    Cached: the same module every call, as one warm container.  `fresh`: a new copy, a cold start.
    """
    if not fresh and name in _WARM:
        return _WARM[name]
    path = functions_dir() / name / "handler.py"
    if not path.is_file():
        raise FileNotFoundError(f"no handler at {path} (set {FUNCTIONS_DIR_ENV})")
    module_name = f"billing_audit_function_{name}_{next(_cold_starts)}" if fresh else f"billing_audit_function_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no handler at {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered first, as an import would: pydantic resolves the handler's annotations through it.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not fresh:
        _WARM[name] = module
    return module


def invoke(
    name: str,
    event: dict[str, Any],
    *,
    timeout_seconds: float = 300.0,
    memory_limit_in_mb: int = 512,
    cold: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """functions/<name>'s handler called with `event`, as Lambda would: in the warm container, or
    (`cold`) in a new one that reads its settings afresh, as after a deployment changed them."""
    context = LocalLambdaContext(
        f"{APP_NAME}-{name}", timeout_seconds=timeout_seconds, memory_limit_in_mb=memory_limit_in_mb, clock=clock
    )
    return load_handler(name, fresh=cold).handler(event, context)


@contextmanager
def local_lambda_environment(*, metrics: bool = False, log_level: str = "WARNING") -> Iterator[None]:
    """Powertools settings for handlers run in process: no X-Ray daemon here, quiet unless asked.

    Settings the caller already made win; everything is restored on exit.
    """
    wanted = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": log_level}
    if not metrics:
        wanted["POWERTOOLS_METRICS_DISABLED"] = "true"
    with process_environment(wanted, override=False):
        yield
