"""The example project with a ``products`` migration that fails (exit 1)."""

from example_project.settings import *  # noqa: F403

MIGRATION_MODULES = {"products": "testsettings.products_broken"}
