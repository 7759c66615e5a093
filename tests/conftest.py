import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the test module (pg_helpers.py), dropped after."""
    from pg_helpers import fresh_database

    with fresh_database() as url:
        yield url


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A store URL naming a new schema of the module's PostgreSQL database."""
    from pg_helpers import new_schema

    return new_schema(pg_database)


@pytest.fixture(scope="session")
def mock_cluster() -> Iterator[object]:
    """librdkafka's mock cluster for the session (kafka_helpers.py)."""
    from kafka_helpers import MockCluster

    yield MockCluster()


@pytest.fixture(autouse=True)
def _english_after_each_test() -> Iterator[None]:
    """``main(["--lang", "zh_CN", ...])`` sets the process's language: a test that calls
    it leaves English behind for the next one."""
    yield
    from engage_rules.i18n import set_language

    set_language(None)
