"""How the results read: one line per comparison as it finishes, and a table at the end."""

from __future__ import annotations

from collections.abc import Sequence

from bench.scenarios import PEER_LABEL, Comparison


def ratio(peer: float, ours: float) -> float:
    """Peer over ours: above 1 means ours took less."""
    return peer / ours if ours > 0 else float("inf")


def ratio_text(value: float, better: str, worse: str) -> str:
    """``17.8x faster``, ``1.05x slower``: always a factor of at least 1, and its direction."""
    factor, word = (value, better) if value >= 1 else (1 / value, worse)
    return f"{factor:.1f}x {word}" if factor >= 10 else f"{factor:.2f}x {word}"


def _title(comparison: Comparison) -> str:
    variant = f", {comparison.variant}" if comparison.variant else ""
    return f"{comparison.scenario} ({comparison.tenants} {comparison.backend} tenants{variant})"


def time_line(comparison: Comparison) -> str:
    """``up-to-date fleet (200 sqlite tenants): tenantops 0.4s, per-tenant migrate 1.1s, ...``"""
    ours, peer = comparison.ours.seconds, comparison.peer.seconds
    verdict = ratio_text(ratio(peer, ours), "faster", "slower")
    return f"{_title(comparison)}: tenantops {ours:.2f}s, {PEER_LABEL} {peer:.2f}s, {verdict}"


def memory_line(comparison: Comparison) -> str:
    """``peak memory, up-to-date fleet (...): tenantops 41 MiB, per-tenant migrate 45 MiB, ...``"""
    ours, peer = comparison.ours.max_rss_mib, comparison.peer.max_rss_mib
    verdict = ratio_text(ratio(peer, ours), "less", "more")
    return (
        f"peak memory, {_title(comparison)}: tenantops {ours:.0f} MiB, "
        f"{PEER_LABEL} {peer:.0f} MiB, {verdict}"
    )


def table(comparisons: Sequence[Comparison], repeats: int) -> str:
    """A summary table of the medians; ratios are peer / ours (above 1: ours is better)."""
    header = (
        "scenario",
        "backend",
        "tenants",
        "tenantops",
        "peer",
        "time x",
        "tenantops RSS",
        "peer RSS",
        "memory x",
    )
    rows = [header]
    for c in comparisons:
        scenario = f"{c.scenario} {c.variant}".strip()
        rows.append(
            (
                scenario,
                c.backend,
                str(c.tenants),
                f"{c.ours.seconds:.2f}s",
                f"{c.peer.seconds:.2f}s",
                f"{ratio(c.peer.seconds, c.ours.seconds):.2f}",
                f"{c.ours.max_rss_mib:.0f} MiB",
                f"{c.peer.max_rss_mib:.0f} MiB",
                f"{ratio(c.peer.max_rss_mib, c.ours.max_rss_mib):.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    note = (
        f"Medians of {repeats} run(s), each in a fresh process; peer = {PEER_LABEL} "
        "(Django's migrate for every tenant, as django-tenants' migrate_schemas); "
        "x = peer / tenantops, above 1 is better for tenantops."
    )
    return "\n".join([*(line.rstrip() for line in lines), note])
