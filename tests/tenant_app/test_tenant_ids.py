"""The tenant-id rule (Django-free: the operator imports it too)."""

import pytest

from tenant_app.ids import InvalidTenantId, is_valid_tenant_id, validate_tenant_id

HOSTILE_IDS = [
    "",
    "Acme",
    "ACME",
    "acme; drop schema public",
    "../x",
    "a" * 64,
    "-acme",
    "acme-",
    "acme_corp",
    "acme\n",
    'acme"',
    "ac me",
    "acmé",
]


@pytest.mark.parametrize("tenant_id", ["acme", "a", "0", "globex-2", "a" * 63, "1-2-3"])
def test_valid_ids_are_dns_1123_labels(tenant_id: str) -> None:
    assert is_valid_tenant_id(tenant_id)
    assert validate_tenant_id(tenant_id) == tenant_id


@pytest.mark.parametrize("tenant_id", HOSTILE_IDS)
def test_hostile_and_malformed_ids_are_refused(tenant_id: str) -> None:
    assert not is_valid_tenant_id(tenant_id)
    with pytest.raises(InvalidTenantId, match="Invalid tenant id"):
        validate_tenant_id(tenant_id)


def test_too_long_id_says_how_long() -> None:
    with pytest.raises(InvalidTenantId, match="64 characters, at most 63"):
        validate_tenant_id("a" * 64)


def test_non_strings_are_refused() -> None:
    assert not is_valid_tenant_id(None)
    assert not is_valid_tenant_id(42)
