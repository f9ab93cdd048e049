"""Fixtures for the queue tests: the admin tests' tenant and fake host."""

from tests.admin.conftest import fake_host, tenant  # noqa: F401 - fixtures
