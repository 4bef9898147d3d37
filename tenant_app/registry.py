"""The tenant registry: look tenants up, list and create them, register their aliases."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, transaction

from tenant_app.backends import TenantBackend, backend_for
from tenant_app.ids import validate_tenant_id
from tenant_app.models import Tenant


class TenantRegistryError(Exception):
    """The registry cannot be read (control database unreachable or not migrated)."""


class TenantExists(Exception):
    """``createtenant`` for an id that is already registered."""


@dataclass(frozen=True)
class TenantInfo:
    """A tenant as the commands and the operator see it."""

    tenant_id: str
    name: str
    isolation: str
    target: str

    def as_dict(self) -> dict[str, str]:
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "isolation": self.isolation,
            "target": self.target,
        }


class TenantRegistry:
    """Reads and writes the ``Tenant`` table in the control database."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using

    @staticmethod
    def backend(tenant: Tenant) -> TenantBackend:
        return backend_for(tenant.isolation, tenant.tenant_id, tenant.db_name)

    def find(self, tenant_id: str) -> Tenant | None:
        """The tenant, or ``None``; raises :class:`TenantRegistryError` if the registry fails."""
        try:
            return Tenant.objects.using(self.using).filter(tenant_id=tenant_id).first()
        except DatabaseError as exc:
            raise TenantRegistryError(str(exc)) from exc

    def all(self) -> list[Tenant]:
        """Every tenant, ordered by id."""
        try:
            return list(Tenant.objects.using(self.using).order_by("tenant_id"))
        except DatabaseError as exc:
            raise TenantRegistryError(str(exc)) from exc

    def info(self, tenant: Tenant) -> TenantInfo:
        return TenantInfo(
            tenant.tenant_id, tenant.name, tenant.isolation, self.backend(tenant).target()
        )

    def register_alias(self, tenant: Tenant) -> str:
        """Make ``connections[tenant.tenant_id]`` usable; returns the alias."""
        from tenant_app.connections import install_tenant_databases

        settings = self.backend(tenant).connection_settings()
        install_tenant_databases().register(tenant.tenant_id, settings)
        return tenant.tenant_id

    def create(self, tenant_id: str, name: str, isolation: str) -> Tenant:
        """Create storage and registry row together; on any failure neither remains.

        Raises ``InvalidTenantId``, :class:`TenantExists` or ``TenantStorageError``.
        """
        validate_tenant_id(tenant_id)
        # Raises TenantStorageError for an unknown isolation, before the registry is read.
        backend = backend_for(isolation, tenant_id)
        if self.find(tenant_id) is not None:
            raise TenantExists(f"Tenant '{tenant_id}' already exists.")
        backend.check_supported()
        backend.create()
        try:
            with transaction.atomic(using=self.using):
                return Tenant.objects.using(self.using).create(
                    tenant_id=tenant_id, name=name, isolation=isolation, db_name=backend.db_name
                )
        except IntegrityError as exc:
            backend.drop()
            # Another createtenant won the race for this id.
            raise TenantExists(f"Tenant '{tenant_id}' already exists.") from exc
        except BaseException:
            backend.drop()
            raise
