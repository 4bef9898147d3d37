"""Tenant ids as database aliases: ``connections["acme"]`` and ``--database=acme`` just work.

How: in ``AppConfig.ready`` the dict behind ``django.db.connections.settings`` is swapped for a
:class:`TenantDatabases`, a dict that resolves a missing alias by looking the tenant up in the
registry and deriving its settings from the control database's (see :mod:`tenant_app.backends`).
Nothing is queried until an alias is used, and only that tenant is registered, so a fleet of
10,000 tenants costs nothing until one is touched.

Django's commands build ``--database`` with ``choices=tuple(connections)`` when their parser is
made; :func:`announce_aliases_from_argv` lists the alias given on the command line among the
keys (resolved on first use), so ``showmigrations --database=acme`` passes argparse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from tenant_app.ids import is_valid_tenant_id


class TenantDatabases(dict[str, Any]):
    """``DATABASES`` plus every registered tenant, resolved on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._announced: list[str] = []
        self._lock = threading.Lock()

    def announce(self, alias: str) -> None:
        """List ``alias`` among the keys without resolving it yet."""
        if is_valid_tenant_id(alias) and not dict.__contains__(self, alias):
            self._announced.append(alias)

    def __iter__(self) -> Iterator[str]:
        yield from list(dict.keys(self))
        yield from (a for a in self._announced if not dict.__contains__(self, a))

    def __contains__(self, alias: object) -> bool:
        if dict.__contains__(self, alias):
            return True
        return isinstance(alias, str) and self._resolve(alias) is not None

    def __missing__(self, alias: str) -> dict[str, Any]:
        entry = self._resolve(alias)
        if entry is None:
            raise KeyError(alias)
        return entry

    def _resolve(self, alias: str) -> dict[str, Any] | None:
        if alias == DEFAULT_DB_ALIAS or not is_valid_tenant_id(alias):
            return None
        from tenant_app.registry import TenantRegistry, TenantRegistryError

        try:
            tenant = TenantRegistry().find(alias)
        except TenantRegistryError:
            # An unreachable or unmigrated control database: the alias simply doesn't exist here;
            # commands that need the reason (migratetenant) ask the registry themselves.
            return None
        if tenant is None:
            return None
        return self.register(alias, TenantRegistry.backend(tenant).connection_settings())

    def register(self, alias: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Add (or keep) the settings of ``alias``; returns the entry in use."""
        with self._lock:
            if not dict.__contains__(self, alias):
                dict.__setitem__(self, alias, entry)
            return dict.__getitem__(self, alias)


def install_tenant_databases() -> TenantDatabases:
    """Make ``django.db.connections`` resolve tenant ids (idempotent)."""
    current = connections.settings
    if isinstance(current, TenantDatabases):
        return current
    databases = TenantDatabases(current)
    # `settings` is a cached_property on the handler: replacing the cached value is enough.
    connections.settings = databases
    return databases


def announce_aliases_from_argv(argv: Sequence[str]) -> None:
    """Announce the value of ``--database`` on a command line (both ``=`` and space forms)."""
    databases = install_tenant_databases()
    for index, arg in enumerate(argv):
        if arg.startswith("--database="):
            databases.announce(arg.split("=", 1)[1])
        elif arg == "--database" and index + 1 < len(argv):
            databases.announce(argv[index + 1])
