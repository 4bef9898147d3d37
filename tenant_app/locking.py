"""One migration at a time per tenant.

On PostgreSQL: a session-level advisory lock in the control database, keyed on the tenant, so
it works alike for database and schema isolation and vanishes with a crashed process's session.
On SQLite (the embedded default): an exclusive ``flock`` on a lock file beside the control
database, which the kernel likewise releases when the process dies.
"""

from __future__ import annotations

import fcntl
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections

from tenant_app.errors import tenant_busy

# First key of the two-key advisory lock: "TENT", so our locks don't collide with the app's own.
ADVISORY_LOCK_CLASS = 0x54454E54


def advisory_lock_key(tenant_id: str) -> tuple[int, int]:
    """The ``(classid, objid)`` pair of ``pg_try_advisory_lock`` for a tenant."""
    objid = zlib.crc32(tenant_id.encode())
    # PostgreSQL's int4 is signed.
    return ADVISORY_LOCK_CLASS, objid - (1 << 32) if objid >= 1 << 31 else objid


@contextmanager
def tenant_lock(tenant_id: str, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Hold the tenant's lock while inside; raise the "busy" error when another holder has it."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with _advisory_lock(tenant_id, using):
            yield
    else:
        with _file_lock(tenant_id, Path(connection.settings_dict["NAME"]).resolve().parent):
            yield


@contextmanager
def _advisory_lock(tenant_id: str, using: str) -> Iterator[None]:
    key = advisory_lock_key(tenant_id)
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        (acquired,) = cursor.fetchone()
    if not acquired:
        raise tenant_busy(tenant_id)
    try:
        yield
    finally:
        # The connection may be gone (then so is the lock); never mask the real outcome.
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        except Exception:
            connection.close()


@contextmanager
def _file_lock(tenant_id: str, directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / f".tenant-{tenant_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise tenant_busy(tenant_id) from None
        yield
    finally:
        os.close(fd)
