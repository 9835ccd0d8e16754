"""Render tests (a package, so their conftest does not shadow the top-level tests/conftest.py module)."""
