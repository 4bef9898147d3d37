"""The example project with two leaf migrations in ``users`` (exit 5)."""

from example_project.settings import *  # noqa: F403

MIGRATION_MODULES = {"users": "testsettings.users_conflict"}
