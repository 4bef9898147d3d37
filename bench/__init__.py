"""Benchmarks of ``migratealltenants`` against a peer measured in the same run.

Run them with ``make bench`` (or ``python -m bench --help`` for sizes and backends). The peer is
what django-tenants' ``migrate_schemas`` does: Django's full ``migrate`` per tenant, in one
process, with no skipping (:mod:`bench.peer`). Every measurement runs in a fresh subprocess; the
sides are interleaved and repeated, and the medians are printed as ratios (peer / ours), never
asserted: these machines are shared and noisy.
"""
