#!/usr/bin/env python
"""Django's command-line utility for the example project (works from any working directory)."""

import os
import sys
from pathlib import Path


def main() -> None:
    # Importable from any cwd: the node agent runs pods' commands with cwd=example/, people and
    # tests with cwd at the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
