"""The tenant registry: one row per tenant, in the control (default) database."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from tenant_app.ids import TENANT_ID_MAX_LENGTH, InvalidTenantId, validate_tenant_id


def validate_tenant_id_field(value: str) -> None:
    """Model-field validator for the tenant-id rule of :mod:`tenant_app.ids`."""
    try:
        validate_tenant_id(value)
    except InvalidTenantId as exc:
        raise ValidationError(str(exc)) from exc


class Isolation(models.TextChoices):
    DATABASE = "database", "Own database"
    SCHEMA = "schema", "Own schema in the shared database"


class Tenant(models.Model):
    """A tenant. No credentials here: connection settings derive from the default database's.

    ``db_name`` is the tenant's database name (database isolation on PostgreSQL), its schema name
    (schema isolation) or its SQLite file name, relative to the control database's directory.
    """

    tenant_id: models.CharField[str, str] = models.CharField(
        max_length=TENANT_ID_MAX_LENGTH, unique=True, validators=[validate_tenant_id_field]
    )
    name: models.CharField[str, str] = models.CharField(max_length=200)
    isolation: models.CharField[str, str] = models.CharField(
        max_length=16, choices=Isolation.choices
    )
    db_name: models.CharField[str, str] = models.CharField(max_length=255)
    labels = models.JSONField(default=dict, blank=True)
    created_at: models.DateTimeField[Any, Any] = models.DateTimeField(auto_now_add=True)
    updated_at: models.DateTimeField[Any, Any] = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id"]

    def __str__(self) -> str:
        return f"{self.tenant_id} ({self.name})"
