"""Domain errors, defined once and turned into rich gRPC statuses (AIP-193).

Domain code raises these without importing grpc; `meters.interceptors` maps them
to a google.rpc.Status with an ErrorInfo and, for bad input, a BadRequest
listing every offending field.
"""

from dataclasses import dataclass, field

import grpc
from google.protobuf.message import Message

DOMAIN = "meters.example.com"


@dataclass
class FieldViolation:
    field: str
    description: str


@dataclass
class DomainError(Exception):
    code: grpc.StatusCode
    reason: str  # UPPER_SNAKE_CASE, stable for clients to switch on
    message: str
    violations: list[FieldViolation] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    # Set on retryable refusals (overload): becomes a google.rpc.RetryInfo telling the client when to retry.
    retry_after_s: float | None = None
    # Further details packed after the standard ones, e.g. what a stream did before it failed.
    details: list[Message] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def invalid_argument(message: str, *violations: FieldViolation, reason: str = "INVALID_ARGUMENT") -> DomainError:
    return DomainError(grpc.StatusCode.INVALID_ARGUMENT, reason, message, list(violations))


def not_found(resource: str, name: str) -> DomainError:
    return DomainError(
        grpc.StatusCode.NOT_FOUND, f"{resource.upper()}_NOT_FOUND", f"{resource} {name} not found",
        metadata={"name": name},
    )


def unavailable(message: str, reason: str = "DEPENDENCY_UNAVAILABLE") -> DomainError:
    return DomainError(grpc.StatusCode.UNAVAILABLE, reason, message)


def resource_exhausted(message: str, reason: str, retry_after_s: float, **metadata: str) -> DomainError:
    """A refusal the client should retry after `retry_after_s` (RetryInfo): the server is at a bound."""
    return DomainError(grpc.StatusCode.RESOURCE_EXHAUSTED, reason, message, metadata=metadata,
                       retry_after_s=retry_after_s)


def already_exists(message: str, reason: str, *violations: FieldViolation) -> DomainError:
    return DomainError(grpc.StatusCode.ALREADY_EXISTS, reason, message, list(violations))


def failed_precondition(message: str, reason: str, **metadata: str) -> DomainError:
    return DomainError(grpc.StatusCode.FAILED_PRECONDITION, reason, message, metadata=metadata)


def unauthenticated(message: str, reason: str = "UNAUTHENTICATED") -> DomainError:
    return DomainError(grpc.StatusCode.UNAUTHENTICATED, reason, message)


def permission_denied(message: str, **metadata: str) -> DomainError:
    return DomainError(grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED", message, metadata=metadata)
