"""Chatsite settings: one module, configured from the environment.

With no environment set this is the embedded mode: SQLite in a file under the project,
the in-memory channel layer, DEBUG on and a generated local secret. `DATABASE_URL` and
`REDIS_URL` switch to PostgreSQL and Redis so many processes can share one database and
one channel layer. See `.env.example` and docs/deploy.md.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from chatsite.dburl import database_from_url
from chatsite.redis_clients import layer_host, parse_sentinels, url_options

# Lets django-stubs' generic classes (managers, forms) be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate(name: str, default: tuple[int, int]) -> tuple[int, int]:
    """A rate limit as `count/seconds`, e.g. `20/10`."""
    value = os.environ.get(name)
    if not value:
        return default
    count, _, seconds = value.partition("/")
    if not (count.isdigit() and seconds.isdigit() and int(seconds) > 0):
        raise ImproperlyConfigured(f"{name} must be count/seconds, e.g. 20/10, got {value!r}")
    return int(count), int(seconds)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


DEBUG = env_bool("DEBUG", True)


def _local_secret() -> str:
    """A per-checkout secret for the embedded mode, generated once and kept out of git."""
    path = BASE_DIR / ".secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _local_vapid_key() -> str:
    """The embedded mode's Web Push (VAPID) private key, generated once beside .secret_key."""
    path = BASE_DIR / ".vapid_private_key"
    if path.exists():
        return path.read_text().strip()
    from push.vapid import new_private_key

    key = new_private_key()
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = os.environ.get("SECRET_KEY", "")
# Web Push (RFC 8292): the private key as base64url (raw 32 bytes, as `manage.py
# vapid_keys` prints it) and the contact push services may use (mailto: or https:).
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY", "")
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

if DEBUG:
    SECRET_KEY = SECRET_KEY or _local_secret()
    VAPID_PRIVATE_KEY = VAPID_PRIVATE_KEY or _local_vapid_key()
    VAPID_SUBJECT = VAPID_SUBJECT or "mailto:admin@localhost"
else:
    if len(SECRET_KEY) < 32 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "DEBUG is off but SECRET_KEY is missing or weak: set SECRET_KEY to a random "
            "string of at least 32 characters (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))')."
        )
    if "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DEBUG is off and ALLOWED_HOSTS contains '*': list the real host names instead."
        )
    if not VAPID_PRIVATE_KEY or not VAPID_SUBJECT.startswith(("mailto:", "https:")):
        raise ImproperlyConfigured(
            "DEBUG is off but VAPID_PRIVATE_KEY or VAPID_SUBJECT is missing: run "
            "`python manage.py vapid_keys` for a new key pair, set VAPID_PRIVATE_KEY to its "
            "private key and VAPID_SUBJECT to a contact (mailto:you@example.com or https://...)."
        )

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "chats",
    "push",
]

MIDDLEWARE = [
    # First, so the request id is on every log line and the timing covers the whole chain.
    "ops.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "api.middleware.JsonErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "accounts.middleware.SessionActivityMiddleware",
]

ROOT_URLCONF = "chatsite.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "chatsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite file by default; DATABASE_URL for PostgreSQL (or another SQLite file).
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    _db = database_from_url(DATABASE_URL)
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "db.sqlite3")}

if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # WAL lets readers run beside the writer; IMMEDIATE makes writers queue on the lock
        # (waiting up to `timeout`) instead of failing with "database is locked" mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_TIMEOUT", 20),
    }
    # Tests use a file too: an in-memory test database is shared-cache, where concurrent
    # writers fail at once with "table is locked" instead of queueing as they do in production.
    _db["TEST"] = {"NAME": str(BASE_DIR / "db.sqlite3-test")}
else:
    # Under ASGI, Django advises a pool and CONN_MAX_AGE=0 instead of persistent connections.
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        **_db.get("OPTIONS", {}),  # from the URL's query: target_session_attrs, sslmode...
        "pool": {
            "min_size": env_int("DB_POOL_MIN", 2),
            "max_size": env_int("DB_POOL_MAX", 20),
            "timeout": 10,
        },
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer and cache: in-process by default; Redis when REDIS_URL is set.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Redis through Sentinel (docs/deploy.md): `host:port,...`. Every Redis client (channel
# layer, cache, rate limits, presence, readiness) then asks the Sentinels for the primary
# named REDIS_SENTINEL_MASTER; REDIS_URL, optional, only gives the database and password.
try:
    REDIS_SENTINELS = parse_sentinels(os.environ.get("REDIS_SENTINELS", ""))
except ValueError as error:
    raise ImproperlyConfigured(f"REDIS_SENTINELS: {error}") from None
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER") or "mymaster"
if REDIS_SENTINELS and not REDIS_URL:
    REDIS_URL = f"redis://{REDIS_SENTINEL_MASTER}/0"  # a name: its host is not used
if REDIS_SENTINELS:
    try:
        url_options(REDIS_URL)
    except ValueError as error:
        raise ImproperlyConfigured(f"REDIS_URL with REDIS_SENTINELS: {error}") from None
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Measured (issue 8): the pub/sub layer keeps single-digit ms latencies where the
            # list-based RedisChannelLayer collapses at a few hundred consumers.
            "BACKEND": "chatsite.layers.PubSubLayer",
            "CONFIG": {
                "hosts": [
                    {
                        **layer_host(REDIS_URL, REDIS_SENTINELS, REDIS_SENTINEL_MASTER),
                        "max_connections": 1000,
                    }
                ],
                "prefix": os.environ.get("CHANNEL_PREFIX", "chatsite"),
            },
        }
    }
    # Through Sentinel, RedisCache's pool comes from chatsite.redis_clients.SentinelPool.
    _sentinel_pool: dict[str, Any] = {
        "pool_class": "chatsite.redis_clients.SentinelPool",
        "sentinels": REDIS_SENTINELS,
        "master_name": REDIS_SENTINEL_MASTER,
    }
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_PREFIX", "chatsite"),
            **({"OPTIONS": _sentinel_pool} if REDIS_SENTINELS else {}),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if os.environ.get("CHATSITE_TEST_FAST_HASHER") == "1" and DEBUG:
    # Test runs only (set by tests/conftest.py, inherited by the servers tests start):
    # PBKDF2 at full strength costs ~0.5 s per user on a small machine.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Client IP: REMOTE_ADDR, or the proxy's X-Forwarded-For only when TRUST_PROXY=1.
TRUST_PROXY = env_bool("TRUST_PROXY", False)

# GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it does not exist.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# On SIGTERM open sockets are closed (code 1012) one by one over this many seconds, so their
# clients reconnect spread out; TimeoutStopSec in the systemd units leaves room for it.
DRAIN_SECONDS = float(os.environ.get("DRAIN_SECONDS") or 10)

# Login throttling (django-axes): 5 failures against one account from one IP (an IPv6 /64)
# lock that pair for 15 minutes. The account is its primary key, whatever the spelling typed
# (accounts/throttling.py); the IP is chatsite.net.client_network.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.throttling.axes_username"
AXES_CLIENT_IP_CALLABLE = "chatsite.net.client_network"
AXES_LOCKOUT_CALLABLE = "accounts.throttling.lockout_response"
AXES_VERBOSE = False

# The sessions page's "last active" is written at most this often per session.
SESSION_ACTIVITY_SECONDS = env_int("SESSION_ACTIVITY_SECONDS", 60)

# A username given up by a rename or a deleted account is held this many days for its
# previous owner, so no one takes over a name people still recognise.
USERNAME_RESERVE_DAYS = env_int("USERNAME_RESERVE_DAYS", 30)

# Two-factor sign-in (django-otp TOTP): the name authenticator apps show for the account.
OTP_TOTP_ISSUER = os.environ.get("TOTP_ISSUER") or "Chatsite"

# Rate limits: (count, seconds).
SIGNUP_RATE = (env_int("SIGNUP_RATE_COUNT", 10), 3600)
SEND_RATE = (env_int("SEND_RATE_BURST", 10), 2)
# How long after sending its author may edit a message, in seconds; 0: no limit.
MESSAGE_EDIT_WINDOW = env_int("MESSAGE_EDIT_WINDOW", 24 * 3600)
SEARCH_RATE = (env_int("SEARCH_RATE_COUNT", 120), 60)
# Every other frame and read a client can ask for, per user across sockets and processes.
SYNC_RATE = env_rate("SYNC_RATE", (20, 10))
READ_RATE = env_rate("READ_RATE", (60, 10))
TYPING_RATE = env_rate("TYPING_RATE", (20, 10))
HISTORY_RATE = env_rate("HISTORY_RATE", (120, 60))
DISCARD_RATE = env_rate("DISCARD_RATE", (20, 10))
MAX_SOCKETS_PER_USER = env_int("MAX_SOCKETS_PER_USER", 10)
# Bytes a socket may hold queued for a client that does not read them; past it the socket
# waits up to SOCKET_DRAIN_SECONDS for the client to read, then closes with 4408.
SOCKET_SEND_BUFFER = env_int("SOCKET_SEND_BUFFER", 4 * 1024 * 1024)
SOCKET_DRAIN_SECONDS = float(os.environ.get("SOCKET_DRAIN_SECONDS") or 10)
# Threads per process for the sockets' database and Redis calls (each holds one connection).
SOCKET_WORKERS = env_int("SOCKET_WORKERS", 8)
# On PostgreSQL sends are stored from the event loop with psycopg's async driver, on this
# many connections per process besides the pool.
SEND_PATH_CONNECTIONS = env_int("SEND_PATH_CONNECTIONS", 4)
# Delivered pointers collect this long before they are written (one statement, one
# "delivered" event per chat for everything forwarded meanwhile): a tick no one can see lag.
# 100 ms rather than 30: at B2's load a third of the writes, 2.5% less server CPU per
# message pinned, under 1% unpinned (bench/notes.md, run 9).
RECEIPTS_FLUSH_SECONDS = float(os.environ.get("RECEIPTS_FLUSH_SECONDS") or 0.1)

# Presence: offline only after the last socket has been closed this long (a reload does not
# flap); a socket's registration lapses unless renewed within the lease (a crashed process).
PRESENCE_GRACE_SECONDS = float(os.environ.get("PRESENCE_GRACE_SECONDS") or 30)
PRESENCE_LEASE_SECONDS = float(os.environ.get("PRESENCE_LEASE_SECONDS") or 60)

# Web Push: the push services a subscription endpoint may point at (https, port 443 unless an
# entry names a port; "*.example.com" covers subdomains). PUSH_SERVICE_HOSTS replaces the list;
# an entry written "http://host:port" allows plain HTTP there, for local testing only.
PUSH_SERVICE_HOSTS = env_list(
    "PUSH_SERVICE_HOSTS",
    [
        "fcm.googleapis.com",  # Chrome, Edge (Chromium), Opera, Android
        "updates.push.services.mozilla.com",  # Firefox
        "*.push.apple.com",  # Safari (macOS, iOS)
        "*.notify.windows.com",  # Windows (WNS)
    ],
)
PUSH_MAX_SUBSCRIPTIONS = 20
# The first retry of a push the service refused for now (429, 5xx); each next one doubles.
PUSH_RETRY_SECONDS = float(os.environ.get("PUSH_RETRY_SECONDS") or 15)
# The push queue (django-tasks with its database backend, run by `manage.py db_worker`).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["push"]}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "chatsite.storage.StaticFilesStorage"
        )
    },
}

# Security headers; production-only switches follow DEBUG.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# No inline script or style anywhere: everything comes from our own static files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# Behind a TLS proxy the site's scheme is https: request.is_secure(), the CSRF check and the
# socket's Origin check (chatsite/origins.py) all read it from here.
if TRUST_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Logs go to stdout: one JSON object per line (LOG_FORMAT=json, the default with DEBUG off)
# or readable text. Every line carries the request id, user id and socket connection id
# when known (ops/logs.py); none carries a message body, password, session key or token.
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("text" if DEBUG else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "ops.logs.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        "chats": {"level": os.environ.get("LOG_LEVEL", "INFO"), "propagate": True},
        "ops": {"level": os.environ.get("LOG_LEVEL", "INFO"), "propagate": True},
        # Django's default config gives these a plain-text handler of their own: one format.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        # Its DEBUG lines are SQL with parameters: message bodies and password hashes.
        "django.db.backends": {"level": "INFO", "propagate": True},
    },
}
