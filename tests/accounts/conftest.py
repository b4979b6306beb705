from tests.support.totp import clock, with_2fa  # noqa: F401  (fixtures)
