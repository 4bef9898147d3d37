"""The tenant-id rule, defined once for the Django app and the operator (no Django import here).

A tenant id is a DNS-1123 label: 1-63 characters, lowercase letters, digits and ``-``, starting
and ending with a letter or digit. The operator puts it into Job names and labels, the Django
side into database, schema and file names, so one strict rule keeps all of them safe.
"""

from __future__ import annotations

import re

TENANT_ID_MAX_LENGTH = 63
TENANT_ID_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_TENANT_ID_RE = re.compile(TENANT_ID_PATTERN)


class InvalidTenantId(ValueError):
    """Raised for a string that is not a valid tenant id; the message says why."""


def is_valid_tenant_id(value: object) -> bool:
    """Whether ``value`` is a valid tenant id."""
    return (
        isinstance(value, str)
        and len(value) <= TENANT_ID_MAX_LENGTH
        # fullmatch, not match: "$" would accept a trailing newline.
        and _TENANT_ID_RE.fullmatch(value) is not None
    )


def validate_tenant_id(value: object) -> str:
    """Return ``value`` when it is a valid tenant id, else raise :class:`InvalidTenantId`."""
    if is_valid_tenant_id(value):
        assert isinstance(value, str)
        return value
    shown = repr(value)
    if isinstance(value, str) and len(value) > TENANT_ID_MAX_LENGTH:
        raise InvalidTenantId(
            f"Invalid tenant id {shown}: it has {len(value)} characters, "
            f"at most {TENANT_ID_MAX_LENGTH} are allowed."
        )
    raise InvalidTenantId(
        f"Invalid tenant id {shown}: use 1-{TENANT_ID_MAX_LENGTH} lowercase letters, digits "
        "and '-', starting and ending with a letter or digit (a DNS-1123 label)."
    )
