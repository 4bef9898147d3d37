"""A synthetic tenant app with a long migration history, generated at run time.

Real projects have hundreds of migrations; the example project has four. With ``--history K``
the benchmark adds a tenant app ``bench_history`` whose ``K`` migrations are small and ordinary
(a ``CreateModel`` every tenth, ``AddField`` of a nullable column otherwise), generated into a
temporary directory together with a settings module that extends the example project's::

    DJANGO_SETTINGS_MODULE=bench_history_settings  PYTHONPATH=<that directory>:...

Nothing of it is committed; the directory is removed with the store that uses it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

APP = "bench_history"
SETTINGS = "bench_history_settings"
MODELS_EVERY = 10  # a new model every MODELS_EVERY migrations, fields added to it in between

_SETTINGS = f"""from example_project.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, {APP!r}]  # noqa: F405
TENANT_APPS = [*TENANT_APPS, {APP!r}]  # noqa: F405
"""

_APPS = f"""from django.apps import AppConfig


class BenchHistoryConfig(AppConfig):
    name = {APP!r}
    default_auto_field = "django.db.models.BigAutoField"
"""


def migration_name(index: int) -> str:
    """``0001_initial``, ``0002_step``, ...: the name of migration ``index`` (from 1)."""
    return f"{index:04d}_initial" if index == 1 else f"{index:04d}_step"


def _migration(index: int) -> str:
    model = f"Model{(index - 1) // MODELS_EVERY}"
    dependencies = [] if index == 1 else [(APP, migration_name(index - 1))]
    if (index - 1) % MODELS_EVERY == 0:
        operation = (
            f"migrations.CreateModel(name={model!r}, fields=["
            "('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False)), "
            "('name', models.CharField(max_length=100))])"
        )
    else:
        operation = (
            f"migrations.AddField(model_name={model.lower()!r}, name='f{index}', "
            "field=models.IntegerField(null=True))"
        )
    return (
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    initial = {index == 1}\n"
        f"    dependencies = {dependencies!r}\n"
        f"    operations = [{operation}]\n"
    )


def generate(history: int, parent: Path | None = None) -> Path:
    """Write the app (``history`` migrations) and the settings module; returns the directory
    to put on ``PYTHONPATH``."""
    if history < 1:
        raise ValueError("history must be at least 1")
    base = Path(tempfile.mkdtemp(prefix="tenantops-bench-history-", dir=parent))
    (base / f"{SETTINGS}.py").write_text(_SETTINGS)
    migrations = base / APP / "migrations"
    migrations.mkdir(parents=True)
    (base / APP / "__init__.py").write_text("")
    (base / APP / "apps.py").write_text(_APPS)
    models = [f"class Model{i}(models.Model):\n" for i in range((history - 1) // MODELS_EVERY + 1)]
    body = "from django.db import models\n\n\n" + "\n\n".join(
        m + "    name = models.CharField(max_length=100)\n" for m in models
    )
    (base / APP / "models.py").write_text(body)
    (migrations / "__init__.py").write_text("")
    for index in range(1, history + 1):
        (migrations / f"{migration_name(index)}.py").write_text(_migration(index))
    return base


def remove(base: Path) -> None:
    shutil.rmtree(base, ignore_errors=True)
