"""Settings variants of the example project for error cases (used via DJANGO_SETTINGS_MODULE)."""
