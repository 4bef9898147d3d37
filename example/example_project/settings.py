"""Settings of the example SaaS project: three tenant apps and the tenant registry.

* ``DATABASE_URL`` set (``postgres://user:pass@host:port/name``): the control database is that
  PostgreSQL database; tenants get a database (or a schema) on the same server.
* unset: the embedded default, an SQLite control database at ``$TENANTOPS_DATA_DIR/control.sqlite3``
  (default ``example/var/``) with one SQLite file per tenant beside it.
"""

import os
from pathlib import Path

from tenant_app.dburl import database_from_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TENANTOPS_DATA_DIR") or BASE_DIR / "var")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS: list[str] = []

INSTALLED_APPS = [
    "tenant_app",
    "users",
    "products",
    "orders",
]

# Apps whose tables live in every tenant; everything else lives in the control database.
TENANT_APPS = ["users", "products", "orders"]
DATABASE_ROUTERS = ["tenant_app.routers.TenantRouter"]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "control.sqlite3",
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
