"""The exit codes of every `billing-audit` command, and which failure earns which.

| code | meaning |
| ---- | ------- |
| 0    | done |
| 1    | a dependency failed: Smartsheet or AWS unreachable, throttled or denying; a missing setting |
| 2    | bad input: a file or field that cannot be used, named in the message |
| 3    | a check failed: `backup verify` found a backup object missing or not matching its manifest |
| 70   | an unexpected error (a bug): one line on stderr, the traceback in a log file |

Commands do not catch errors to choose a code: `run` classifies whatever escapes them.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from billing_audit import resources as res
from billing_audit.errors import BadInput, DependencyFailed

PROGRAM = "billing-audit"
MIN_REDACTED = 8  # shorter, a "token" is a test value, and replacing it would garble the log


class ExitCode(IntEnum):
    OK = 0
    DEPENDENCY_FAILED = 1
    BAD_INPUT = 2
    CHECK_FAILED = 3
    UNEXPECTED = 70  # sysexits.h EX_SOFTWARE
    INTERRUPTED = 130


_AWS_ERRORS = (BotoCoreError, ClientError, GetParameterError)


def _say(message: str) -> None:
    print(f"{PROGRAM}: {message}", file=sys.stderr)


def _log_unexpected(exc: BaseException) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = "".join(traceback.format_exception(exc))
    # A bug's message may quote what it was handed; the token set in the environment never lands
    # in a file (the one from Secrets Manager is checked before use: wiring.usable_token).
    token = os.environ.get(res.SMARTSHEET_TOKEN_ENV, "").strip()
    if len(token) >= MIN_REDACTED:
        text = text.replace(token, "[Smartsheet token]")
    with tempfile.NamedTemporaryFile(
        "w", prefix=f"{PROGRAM}-{stamp}-", suffix=".log", delete=False, encoding="utf-8"
    ) as log:
        log.write(text)
    return Path(log.name)


def run(command: Callable[[], int]) -> int:
    """Run one command and turn what escapes it into one line on stderr and an exit code."""
    try:
        return int(command())
    except BadInput as exc:
        _say(str(exc))
        return ExitCode.BAD_INPUT
    except DependencyFailed as exc:
        _say(str(exc))
        return ExitCode.DEPENDENCY_FAILED
    except _AWS_ERRORS as exc:
        # botocore messages name the operation and error code, never secret values.
        _say(f"AWS: {exc}")
        return ExitCode.DEPENDENCY_FAILED
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:
        log = _log_unexpected(exc)
        _say(f"unexpected error ({type(exc).__name__}); details in {log}")
        return ExitCode.UNEXPECTED
