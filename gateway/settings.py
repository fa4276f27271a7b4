"""All configuration, read from the environment (django-environ) with types and defaults; no logic.

Every variable is documented in the README's configuration table.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# A development fallback; gateway.W001 warns when it is in use.
INSECURE_DEFAULT_SECRET_KEY = "insecure-dev-only-secret-key-change-me-0123456789abcdef"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto, mark cookies Secure, send HSTS.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core.apps.CoreConfig",
    "gateway.apps.GatewayConfig",
    "rbac.apps.RbacConfig",
    "apikeys.apps.ApikeysConfig",
    "audit.apps.AuditConfig",
    "limits.apps.LimitsConfig",
    "services.apps.ServicesConfig",
    "lookups.apps.LookupsConfig",
]

# gateway.middleware.ApiMiddleware answers every /api/ request itself, so the admin's
# session, CSRF, auth and message middleware below never run for data API calls.
MIDDLEWARE = [
    "gateway.middleware.ApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gateway.urls"
WSGI_APPLICATION = "gateway.wsgi.application"

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

if "DATABASE_URL" not in env:
    DATA_DIR.mkdir(exist_ok=True)  # the embedded default lives in .data/ (git-ignored)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'gateway.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
# Seconds a metadata write waits for another process's write to finish (SQLite's busy timeout).
GATEWAY_METADATA_BUSY_TIMEOUT = env.float("GATEWAY_METADATA_BUSY_TIMEOUT", default=20.0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several worker processes write one SQLite file: WAL lets reads run beside the writer,
    # the busy timeout makes a writer wait its turn, and BEGIN IMMEDIATE takes the write lock
    # at the start of a transaction (a deferred one that upgrades later fails at once instead
    # of waiting, "database is locked").
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",
            "timeout": GATEWAY_METADATA_BUSY_TIMEOUT,
        }
    )
# The audit trail's store, apart from the metadata admins edit (README "Audit trail"): its own
# database alias, which only the audit app uses (audit.router.AuditRouter). Default: a SQLite file
# of its own beside a SQLite metadata file (gateway.sqlite3 -> gateway-audit.sqlite3), else
# .data/audit.sqlite3 (check audit.W001 says so with a PostgreSQL metadata DB: each instance would
# keep its own trail); a PostgreSQL URL for instances that share one.
GATEWAY_AUDIT_DATABASE_URL = env.str("GATEWAY_AUDIT_DATABASE_URL", default="")
_metadata_file = DATABASES["default"]["NAME"]
if GATEWAY_AUDIT_DATABASE_URL:
    DATABASES["audit"] = env.db_url_config(GATEWAY_AUDIT_DATABASE_URL)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and _metadata_file:
    _metadata_path = Path(str(_metadata_file))
    _audit_file = (
        _metadata_path.with_name(f"{_metadata_path.stem}-audit{_metadata_path.suffix}")
        if str(_metadata_file) != ":memory:"
        else _metadata_path
    )
    DATABASES["audit"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(_audit_file)}
else:
    DATA_DIR.mkdir(exist_ok=True)
    DATABASES["audit"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "audit.sqlite3"),
    }
DATABASES["audit"].setdefault("CONN_MAX_AGE", DATABASES["default"]["CONN_MAX_AGE"])
if DATABASES["audit"]["ENGINE"] == "django.db.backends.sqlite3":
    # the flushers of several workers (and purges) write it: as for the metadata file above
    DATABASES["audit"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",
            "timeout": GATEWAY_METADATA_BUSY_TIMEOUT,
        }
    )
DATABASE_ROUTERS = ["audit.router.AuditRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://gateway")}
# Namespaces this deployment's keys in a shared cache (django-environ drops ?key_prefix= for
# Django's own Redis backend, so it is a setting of its own).
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="")

AUTH_USER_MODEL = "rbac.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves static files; without collectstatic (dev runs) it finds them in the apps.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing root before collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rbac.authentication.SessionTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rbac.system_access.SystemAccess"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.drf.GatewayJSONParser",
        "core.drf.AnyTypeJSONParser",  # JSON sent as form data or with no Content-Type
    ],
    "EXCEPTION_HANDLER": "core.drf.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gateway system API",
    "DESCRIPTION": "Services, admin sessions and (later) roles, apps and users.",
    "VERSION": "2",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- gateway settings --------------------------------------------------------------------------
# Fernet key(s) for service passwords at rest; comma-separated, newest first (MultiFernet).
GATEWAY_ENCRYPTION_KEY = env.str("GATEWAY_ENCRYPTION_KEY", default="")
# HS256 secret for session tokens; defaults to SECRET_KEY.
JWT_SECRET = env.str("JWT_SECRET", default=SECRET_KEY)
JWT_TTL_MINUTES = env.int("JWT_TTL_MINUTES", default=1440)
# How long after issue an (even expired) token may be refreshed with PUT .../session.
JWT_REFRESH_TTL_MINUTES = env.int("JWT_REFRESH_TTL_MINUTES", default=20160)
# Logins with "remember_me": true get a token that lives the whole refresh window (DF's
# DF_ALLOW_FOREVER_SESSIONS; off by default, as in DF).
JWT_ALLOW_FOREVER_SESSIONS = env.bool("JWT_ALLOW_FOREVER_SESSIONS", default=False)
# Password resets (POST user/password?reset=true): how long an emailed code stays valid, and
# how it is mailed. EMAIL_URL (django-environ: smtp+tls://user:pass@host:587) configures SMTP;
# without it the message (and its code) goes to the server log for the operator to pass on.
GATEWAY_PASSWORD_RESET_MINUTES = env.int("GATEWAY_PASSWORD_RESET_MINUTES", default=1440)
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="gateway@localhost")
# HMAC secret(s) for API keys at rest; comma-separated, newest first. Default: from SECRET_KEY.
GATEWAY_API_KEY_SECRET = env.str("GATEWAY_API_KEY_SECRET", default="")
# POST /api/v2/user/register: open self-registration of users (off by default).
GATEWAY_OPEN_REGISTRATION = env.bool("GATEWAY_OPEN_REGISTRATION", default=False)
# Failed logins: after this many per account / per client address within the lockout window,
# further attempts answer 429 until the window passes.
GATEWAY_LOGIN_MAX_FAILURES = env.int("GATEWAY_LOGIN_MAX_FAILURES", default=5)
GATEWAY_LOGIN_MAX_FAILURES_PER_ADDRESS = env.int(
    "GATEWAY_LOGIN_MAX_FAILURES_PER_ADDRESS", default=20
)
GATEWAY_LOGIN_LOCKOUT_SECONDS = env.int("GATEWAY_LOGIN_LOCKOUT_SECONDS", default=900)
# CORS for /api/ (spec §12.1). No origins (the default): no CORS headers at all; "*": any.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOWED_METHODS = [
    m.upper()
    for m in env.list("CORS_ALLOWED_METHODS", default=["GET", "POST", "PUT", "PATCH", "DELETE"])
]
CORS_ALLOWED_HEADERS = env.list(
    "CORS_ALLOWED_HEADERS",
    default=[
        "accept",
        "authorization",
        "content-type",
        "if-none-match",
        "x-dreamfactory-api-key",
        "x-dreamfactory-session-token",
        "x-http-method",
        "x-method-override",
    ],
)
CORS_EXPOSE_HEADERS = env.list(
    "CORS_EXPOSE_HEADERS",
    default=["etag", "retry-after", "server-timing", "x-ratelimit-limit", "x-ratelimit-remaining"],
)
CORS_MAX_AGE = env.int("CORS_MAX_AGE", default=600)
CORS_ALLOW_CREDENTIALS = env.bool("CORS_ALLOW_CREDENTIALS", default=False)
# Seconds a cached read lives when its service enables caching with cache_ttl 0.
GATEWAY_DATA_CACHE_DEFAULT_TTL = env.int("GATEWAY_DATA_CACHE_DEFAULT_TTL", default=300)
# Behind proxies you run: take the client address from X-Forwarded-For, counting
# GATEWAY_TRUSTED_PROXY_COUNT proxies from the right (entries further left can be forged).
GATEWAY_TRUST_X_FORWARDED_FOR = env.bool("GATEWAY_TRUST_X_FORWARDED_FOR", default=False)
GATEWAY_TRUSTED_PROXY_COUNT = env.int("GATEWAY_TRUSTED_PROXY_COUNT", default=1)
# Instance-wide cap on rows per response (DF's DB_MAX_RECORDS_RETURNED).
GATEWAY_MAX_RECORDS_CAP = env.int("GATEWAY_MAX_RECORDS_CAP", default=100_000)
# Longest request URL (path and query string) the API accepts, in bytes; longer ones get a 414
# in the error envelope. Keep it below the server's own limit (granian: 64 KiB).
GATEWAY_MAX_URL_BYTES = env.int("GATEWAY_MAX_URL_BYTES", default=32 * 1024)
# Largest request body the API accepts, in bytes.
GATEWAY_MAX_BODY_BYTES = env.int("GATEWAY_MAX_BODY_BYTES", default=16 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = GATEWAY_MAX_BODY_BYTES
# While a service is used: how often (seconds) a process checks whether its database schema
# changed outside the gateway (a catalog fingerprint, read in the background); 0: never.
GATEWAY_SCHEMA_CHECK_SECONDS = env.float("GATEWAY_SCHEMA_CHECK_SECONDS", default=0.5)
# How often (seconds) a process checks the metadata version stamp for service changes.
GATEWAY_METADATA_POLL_SECONDS = env.float("GATEWAY_METADATA_POLL_SECONDS", default=1.0)
# Seconds to wait for a free pooled connection before answering 503.
GATEWAY_POOL_TIMEOUT = env.float("GATEWAY_POOL_TIMEOUT", default=3.0)
# Seconds to wait when opening a connection to a service database.
GATEWAY_CONNECT_TIMEOUT = env.int("GATEWAY_CONNECT_TIMEOUT", default=5)

# --- audit trail (README "Audit trail") --------------------------------------------------------
# "db": buffered in memory, written to the audit store (DATABASES["audit"]) by a background
# thread; "log": one JSON line per call to the logger gateway.audit; "off": nothing recorded
# (check audit.E001).
GATEWAY_AUDIT = env.str("GATEWAY_AUDIT", default="db")
# "db" mode: write waiting events every this many seconds, or as soon as this many wait.
GATEWAY_AUDIT_FLUSH_SECONDS = env.float("GATEWAY_AUDIT_FLUSH_SECONDS", default=1.0)
GATEWAY_AUDIT_BATCH = env.int("GATEWAY_AUDIT_BATCH", default=500)
# "db" mode: at most this many events wait in memory; beyond it the oldest are dropped (logged).
GATEWAY_AUDIT_BUFFER = env.int("GATEWAY_AUDIT_BUFFER", default=10_000)
# Days an audit event is kept (the flusher purges at most hourly); 0 keeps events forever.
GATEWAY_AUDIT_RETENTION_DAYS = env.int("GATEWAY_AUDIT_RETENTION_DAYS", default=30)
# Most events the audit store keeps (about 230 bytes each in SQLite); beyond it the oldest go
# (checked by the flusher every minute, and by purge_audit); 0: no limit.
GATEWAY_AUDIT_MAX_EVENTS = env.int("GATEWAY_AUDIT_MAX_EVENTS", default=10_000_000)

# --- operations: metrics and logs (README "Operations") ----------------------------------------
# When set, GET /metrics needs `Authorization: Bearer <this token>`; empty: open to anyone who
# can reach the listening address.
GATEWAY_METRICS_TOKEN = env.str("GATEWAY_METRICS_TOKEN", default="")
# false: no request is recorded (the metrics observer is not registered) and /metrics answers
# 404; for a deployment that does not scrape, or to measure what recording costs.
GATEWAY_METRICS = env.bool("GATEWAY_METRICS", default=True)
# Multi-process servers: a directory where every worker keeps its metric samples, emptied before
# the server starts (prometheus-client reads the variable itself, at import). Empty: per process.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if not PROMETHEUS_MULTIPROC_DIR:  # prometheus-client would take a set-but-empty variable as "on"
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
# "plain" text lines (development) or "json": one object a line with the request id.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # request_id on every record; credentials in logged query strings are blanked
    "filters": {
        "request": {"()": "gateway.logs.RequestFilter"},
        "skip_api": {"()": "gateway.logs.SkipApiRequests"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "gateway.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # the pool's own warnings (a failed connect, a discarded connection) repeat what
    # services/db/pools.py logs once per event, with the service's name
    "loggers": {
        "psycopg.pool": {"level": "ERROR"},
        "xmlschema": {"level": "WARNING"},  # pysaml2's schemas: "already loaded" at INFO
        "django.request": {"filters": ["skip_api"]},
    },
}
