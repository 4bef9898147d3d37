"""Create a benchmark fleet: the control database migrated, N tenants registered, none migrated.

Run in a child process with the fleet's environment (``TENANTOPS_DATA_DIR`` or
``DATABASE_URL``)::

    python -m bench.fleet --tenants 200 --isolation schema

Tenants are created in-process through the registry (what ``createtenant`` does), since 200
``manage.py createtenant`` processes would take longer than the benchmark itself.
"""

from __future__ import annotations

import argparse

from bench.django_env import setup_example_project


def tenant_ids(count: int) -> list[str]:
    """``t0001``, ``t0002``, ...: valid tenant ids that sort in creation order."""
    return [f"t{index:04d}" for index in range(1, count + 1)]


def create_fleet(count: int, isolation: str) -> None:
    """Migrate the control database and register ``count`` tenants with empty storage."""
    setup_example_project()
    from django.core.management import call_command

    from tenant_app.registry import TenantRegistry

    call_command("migrate", verbosity=0, interactive=False)
    registry = TenantRegistry()
    for tenant_id in tenant_ids(count):
        registry.create(tenant_id, f"Tenant {tenant_id}", isolation)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--tenants", type=int, required=True)
    parser.add_argument("--isolation", choices=("database", "schema"), default="database")
    args = parser.parse_args()
    create_fleet(args.tenants, args.isolation)


if __name__ == "__main__":
    main()
