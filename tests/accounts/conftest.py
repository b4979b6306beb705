from tests.faults.conftest import private_redis  # noqa: F401  (fixture)
from tests.support.totp import clock, with_2fa  # noqa: F401  (fixtures)
