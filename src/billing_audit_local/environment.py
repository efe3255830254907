"""The local cloud's environment, and the one place that writes it into the process.

In Lambda the handlers find AWS through their environment: the region and credentials the runtime
sets, the resource names the stack passes in.  Locally the handlers run in this process, so while a
local cloud is up the process environment says the same things about moto:

- `LocalAws` is where the local cloud is and how to sign for it (moto takes any credentials):
  explicit clients for tooling code (`LocalAws.client`), and the variables that point boto3's
  default session there (`LocalAws.environment()`);
- `ProcessEnvironment` is the only writer of `os.environ` in billing_audit_local: it sets
  variables, remembers what each replaced, and `restore()` puts the process back as it was;
  `process_environment()` is the same as a context manager;
- `deployed_name()` is how tooling code beside the handlers reads a resource name they read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from billing_audit.resources import SMARTSHEET_TOKEN_ENV, required_env

REGION = "us-east-1"
FAKE_KEY = "testing"
ENDPOINT_ENV = "AWS_ENDPOINT_URL"


@dataclass(frozen=True)
class LocalAws:
    """The local cloud's endpoint, region and (fake) credentials."""

    endpoint_url: str
    region: str = REGION
    access_key_id: str = FAKE_KEY
    secret_access_key: str = FAKE_KEY
    session_token: str = FAKE_KEY

    def client(self, service: str) -> Any:
        """A client for the local cloud that reads nothing from the process environment."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
        )

    def environment(self) -> dict[str, str]:
        """The variables that send every default boto3 client (the handlers' ones) here."""
        return {
            ENDPOINT_ENV: self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


class ProcessEnvironment:
    """Variables set in `os.environ` and what they replaced; `restore()` undoes every `set()`."""

    def __init__(self) -> None:
        self._replaced: dict[str, str | None] = {}

    def set(self, values: Mapping[str, str], *, override: bool = True) -> None:
        """Set `values`; with `override=False`, a variable the process already has keeps its value."""
        for name, value in values.items():
            if not override and name in os.environ and name not in self._replaced:
                continue
            self._replaced.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        _forget_default_session(values)

    def restore(self) -> None:
        replaced, self._replaced = self._replaced, {}
        for name, previous in replaced.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        _forget_default_session(replaced)


@contextmanager
def process_environment(values: Mapping[str, str], *, override: bool = True) -> Iterator[None]:
    """`values` in `os.environ` for the duration of the block, then the process as it was."""
    environment = ProcessEnvironment()
    environment.set(values, override=override)
    try:
        yield
    finally:
        environment.restore()


def _forget_default_session(changed: Mapping[str, object]) -> None:
    """boto3's default session keeps the credentials it first found: make it look again."""
    if any(name.startswith("AWS_") for name in changed):
        boto3.DEFAULT_SESSION = None


def deployed_name(env_var: str) -> str:
    """A resource name of the running local cloud, read where the handlers read it (the environment)."""
    return required_env(env_var)


def smartsheet_token() -> str | None:
    """The Smartsheet token the caller set for the local cloud's token secret, if any."""
    return os.environ.get(SMARTSHEET_TOKEN_ENV) or None
