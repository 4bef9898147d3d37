"""Argument types shared by the commands."""

from __future__ import annotations

from argparse import ArgumentTypeError

from tenant_app.ids import InvalidTenantId, validate_tenant_id


def tenant_id_argument(value: str) -> str:
    """argparse ``type=`` for a tenant id: a bad id is a usage error (exit 2)."""
    try:
        return validate_tenant_id(value)
    except InvalidTenantId as exc:
        raise ArgumentTypeError(str(exc)) from None


def tenant_id_list_argument(value: str) -> list[str]:
    """argparse ``type=`` for ``a,b,c``."""
    return [tenant_id_argument(item.strip()) for item in value.split(",") if item.strip()]
