"""The errors a tenant command reports: message lines and exit code, in one table.

The texts are part of the contract (DESIGN.md, "tenant_app"): people read them in a Job's log and
the operator tells permanent from transient failures by the exit code (``tenant_app.contract``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from tenant_app.contract import ExitCode

# SQLSTATE 42501: insufficient_privilege (e.g. CREATE TABLE without CREATE on the schema).
INSUFFICIENT_PRIVILEGE = "42501"


class TenantCommandError(Exception):
    """An error with the exact lines to print on stderr and the exit code to end with."""

    def __init__(self, exit_code: ExitCode, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.exit_code = exit_code
        self.lines = lines

    @property
    def summary(self) -> str:
        """The message without the ``Error: `` prefix, on one line (for reports).

        Lines are joined as sentences: ``Cannot connect to tenant database. Check ...``.
        """
        sentences = [
            line if line.endswith((".", "!", "?", ":")) else f"{line}." for line in self.lines
        ]
        return " ".join(sentences).removeprefix("Error: ")


def unknown_tenant(tenant_id: str) -> TenantCommandError:
    return TenantCommandError(
        ExitCode.UNKNOWN_TENANT,
        f"Error: Tenant '{tenant_id}' does not exist.",
        f"Please create one with the tenant id '{tenant_id}' first.",
    )


def database_unreachable() -> TenantCommandError:
    return TenantCommandError(
        ExitCode.DB_UNREACHABLE,
        "Error: Cannot connect to tenant database",
        "Check database configuration and connectivity.",
    )


def registry_unavailable(reason: str) -> TenantCommandError:
    # The control database answers but has no registry table: a setup step is missing.
    return TenantCommandError(
        ExitCode.DB_UNREACHABLE,
        f"Error: Cannot read the tenant registry: {first_line(reason)}",
        "Run 'python manage.py migrate' on the control database first.",
    )


def conflicting_migrations() -> TenantCommandError:
    return TenantCommandError(
        ExitCode.CONFLICTING_MIGRATIONS,
        "Error: Conflicting migrations detected",
        "Resolve migration conflicts before applying.",
    )


def no_privilege() -> TenantCommandError:
    return TenantCommandError(
        ExitCode.NO_PRIVILEGE,
        "Error: User does not have permission to create tables",
        "Ensure database user has required privileges.",
    )


def tenant_busy(tenant_id: str) -> TenantCommandError:
    return TenantCommandError(
        ExitCode.TENANT_BUSY, f"Error: Tenant '{tenant_id}' is being migrated by another process."
    )


def migration_failed(migration: str, tenant_id: str, reason: str) -> TenantCommandError:
    return TenantCommandError(
        ExitCode.MIGRATION_FAILED,
        f"Error: Migration {migration} failed for tenant '{tenant_id}': {first_line(reason)}",
    )


def first_line(text: str) -> str:
    """The first non-empty line of an exception text (psycopg adds LINE/HINT lines)."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes/contexts (Django wraps driver errors; the recorder re-raises)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_privilege_error(exc: BaseException) -> bool:
    """Whether the database refused for lack of privilege (PostgreSQL 42501, read-only SQLite)."""
    for item in exception_chain(exc):
        if getattr(item, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
            return True
        if getattr(item, "pgcode", None) == INSUFFICIENT_PRIVILEGE:
            return True
        if isinstance(item, sqlite3.OperationalError) and "readonly" in str(item):
            return True
    return False
