"""Reading a TenantMigration's spec: defaults and the errors a user sees."""

from __future__ import annotations

import pytest
from tenant_operator.model import FailurePolicy, MigrationSpec, SpecError, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400), ("250ms", 0.25)],
)
def test_durations_are_read_like_kubernetes_writes_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "60", "1d", "soon", "-5s", "5 m"])
def test_a_bad_duration_says_how_to_write_one(text):
    with pytest.raises(SpecError, match="not a duration"):
        parse_duration(text)


def test_defaults_match_the_documented_ones():
    spec = MigrationSpec.from_dict({"image": "app:1", "tenants": {"all": True}})
    assert spec.command == ("python", "manage.py")
    assert spec.rollout.maxConcurrent == 1
    assert spec.rollout.failurePolicy is FailurePolicy.HALT
    assert spec.rollout.tenant_timeout_seconds == 1800
    assert spec.paused is False and spec.retryFailed == 0 and spec.dryRun is False


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"tenants": {"all": True}}, "spec.image is required"),
        ({"image": "a", "tenants": {"all": True, "ids": ["x"]}}, "exactly one"),
        ({"image": "a", "tenants": {}}, "exactly one"),
        ({"image": "a", "tenants": {"all": True}, "rollout": {"maxConcurrent": 0}}, "at least 1"),
        (
            {"image": "a", "tenants": {"all": True}, "rollout": {"failurePolicy": "Panic"}},
            "Halt or Continue",
        ),
        ({"image": "a", "tenants": {"all": True}, "rollout": {"interval": "1d"}}, "not a duration"),
        (
            {"image": "a", "tenants": {"all": True}, "rollout": {"retries": -1}},
            "cannot be negative",
        ),
    ],
)
def test_specs_the_operator_cannot_run_are_refused_with_a_sentence(spec, message):
    with pytest.raises(SpecError, match=message):
        MigrationSpec.from_dict(spec)
