"""Writing the JSON result of ``migratetenant`` (the Job's termination message)."""

from __future__ import annotations

import os
from pathlib import Path

from tenant_app.contract import REPORT_ENV, MigrationReport


def report_path(option: str | None) -> Path | None:
    """``--report-file`` if given, else ``$TENANT_MIGRATE_REPORT``, else no report."""
    value = option or os.environ.get(REPORT_ENV)
    return Path(value) if value else None


def write_report(path: Path, report: MigrationReport) -> str | None:
    """Write the report (at most 4096 bytes); returns the reason when it cannot be written.

    A report that cannot be written must not change the outcome: the exit code still says it.
    """
    try:
        path.write_text(report.to_json())
    except OSError as exc:
        return f"Warning: cannot write the report to {path}: {exc.strerror or exc}"
    return None
