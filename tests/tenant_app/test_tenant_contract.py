"""The Job contract: report size limit, truncation with counts, JSON lines."""

import json

from tenant_app.contract import (
    MigrationReport,
    ReportStatus,
    TenantPlan,
    parse_plan_output,
    parse_result_output,
)
from tenant_app.errors import database_unreachable


def test_long_report_is_truncated_with_counts_under_4096_bytes() -> None:
    names = [f"app{i}/{i:04d}_a_rather_long_migration_name_for_padding" for i in range(300)]
    report = MigrationReport(
        "acme",
        ReportStatus.FAILED,
        1,
        applied=names,
        planned=names,
        unapplied=names[:10],
        error="x" * 5000,
    )
    text = report.to_json()
    assert len(text.encode()) <= 4096
    data = json.loads(text)
    assert data["planned_truncated"] + len(data["planned"]) == 300
    assert data["applied_truncated"] + len(data["applied"]) == 300
    assert data["error"].endswith("...")


def test_report_round_trips_and_ignores_unknown_keys() -> None:
    report = MigrationReport("acme", ReportStatus.APPLIED, applied=["users/0001_initial"])
    data = json.loads(report.to_json()) | {"added_by_a_newer_app": 1}
    assert MigrationReport.from_json(json.dumps(data)) == report


def test_plan_and_result_lines_are_found_among_other_log_lines() -> None:
    log = "\n".join(
        [
            "some warning",
            TenantPlan("acme", ["users/0002_alter_user_email"]).to_line(),
            MigrationReport("globex", ReportStatus.UP_TO_DATE).to_line(),
            '{"summary": {}}',
        ]
    )
    assert parse_plan_output(log) == [TenantPlan("acme", ["users/0002_alter_user_email"])]
    assert [r.tenant for r in parse_result_output(log)] == ["globex"]


def test_error_summary_reads_as_sentences_on_one_line():
    assert database_unreachable().summary == (
        "Cannot connect to tenant database. Check database configuration and connectivity."
    )
