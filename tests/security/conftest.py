from tests.faults.conftest import (  # noqa: F401  (fixtures for the live security tests)
    cluster_factory,
    database_url,
    private_redis,
    proxy,
    sqlite_template,
)
