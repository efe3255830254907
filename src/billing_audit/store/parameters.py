"""The product configuration in one SSM parameter: read through Powertools (cached), written with PutParameter.

The value is the configuration as compact JSON (`parameter_value`), validated before it is written
and again, by the same model, after it is read.  Reading goes through Powertools' SSM provider so a
warm function asks SSM at most once per `max_age`; a push reaches every function within that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from billing_audit import resources as res
from billing_audit.config import AuditConfig, ConfigError, config_document
from billing_audit.errors import DependencyFailed

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

# Advanced above the standard tier's 4 KB.  Below it, Intelligent-Tiering: standard while the value
# fits, and a parameter once made advanced stays so (SSM refuses to move one back to standard).
ADVANCED = "Advanced"
INTELLIGENT_TIERING = "Intelligent-Tiering"


def parameter_value(config: AuditConfig) -> str:
    """What the parameter holds: the whole validated configuration, defaults included, as compact JSON."""
    return config.model_dump_json()


def tier_for(value: str) -> str:
    return ADVANCED if len(value.encode()) > res.CONFIG_STANDARD_TIER_BYTES else INTELLIGENT_TIERING


def check_size(value: str, source: str) -> int:
    """The value's size in bytes; a ConfigError where SSM would refuse it."""
    size = len(value.encode())
    if size > res.CONFIG_MAX_BYTES:
        raise ConfigError(
            f"{source} is {size} bytes as JSON; an SSM parameter holds at most {res.CONFIG_MAX_BYTES} "
            "(select sheets by workspace or folder rather than one by one)"
        )
    return size


def _code(message: str) -> str | None:
    """The AWS error code Powertools keeps only inside its message: "An error occurred (Code) when..."."""
    start = message.find("(")
    end = message.find(")", start)
    return message[start + 1 : end] if 0 <= start < end else None


@dataclass
class ConfigParameter:
    """One parameter holding the configuration.  `provider`: Powertools' default SSM provider
    unless given (its cache is per container, shared by every reader)."""

    name: str
    max_age: int = res.CONFIG_CACHE_SECONDS
    provider: SSMProvider | None = None

    @property
    def source(self) -> str:
        return f"configuration parameter {self.name}"

    def document(self, *, fresh: bool = False) -> dict[str, Any]:
        """The stored JSON object, not validated yet (overrides may still apply); `fresh` skips the cache."""
        try:
            if self.provider is not None:
                value = self.provider.get(self.name, max_age=self.max_age, force_fetch=fresh)
            else:
                value = parameters.get_parameter(self.name, max_age=self.max_age, force_fetch=fresh)
        except GetParameterError as exc:
            code = _code(str(exc))
            if code == "ParameterNotFound":
                raise ConfigError(f"{self.source} does not exist (deploy the stack, or pass its name)") from None
            raise DependencyFailed(f"cannot read {self.source}: {code or exc}") from None
        return config_document(str(value), self.source)

    def put(self, config: AuditConfig, client: Any) -> tuple[int, str, int]:
        """Replace the value with `config`; (new version, tier, bytes).  The parameter must exist
        already (the stack creates it), so a mistyped name is refused rather than created."""
        value = parameter_value(config)
        size = check_size(value, "the configuration")
        try:
            client.get_parameter(Name=self.name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                raise ConfigError(f"{self.source} does not exist (deploy the stack, or pass its name)") from None
            raise
        tier = tier_for(value)
        response = client.put_parameter(Name=self.name, Value=value, Type="String", Overwrite=True, Tier=tier)
        return int(response["Version"]), str(response.get("Tier", tier)), size
