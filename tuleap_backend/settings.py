"""Settings for tuleap_backend, read from environment variables (see the README's table)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from pathlib import Path

from tuleap_backend.env import (
    AsyncEmails,
    ConfigurationError,
    Env,
    email_gateway_listen,
    email_gateway_prefix,
    email_gateway_spool,
    logger_level,
    notification_retry_intervals,
    notification_smtp_connections,
    parse_async_emails,
    project_creators,
    proxy_ssl_header,
    secret_key,
)
from tuleap_backend.redis_settings import redis_sentinel, rq_queues

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = Env()

try:
    DEBUG = env.bool("DEBUG", default=False)
    SECRET_KEY = secret_key(env, debug=DEBUG, path=VAR_DIR / "secret_key")
    # Earlier keys, still accepted by Django's signing (the email gateway's reply tokens, sessions)
    # after a rotation: the new key signs, the old ones keep verifying.
    SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
    SITE_URL = env.str("SITE_URL", "http://localhost:8000").rstrip("/")
    DATABASES = {"default": env.database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        # A file, not memory, so worker subprocesses started by the tests share the test database.
        DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test_db_{os.getpid()}.sqlite3")}
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            # Writers queue instead of failing (README: "When to move to PostgreSQL"). SQLite has one
            # write lock: a transaction that reads first and then writes cannot wait for it (another
            # writer's commit made its snapshot stale) and fails at once with "database is locked".
            # BEGIN IMMEDIATE takes the lock when the transaction starts, so it waits its turn, up to
            # the busy timeout (seconds); WAL lets readers read while one connection writes.
            timeout=20,
            transaction_mode="IMMEDIATE",
            init_command="PRAGMA journal_mode=WAL",
        )
    REDIS_URL = env.redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")
    # Redis behind Sentinel (README: "Operations: Redis Sentinel"): REDIS_SENTINELS, REDIS_SENTINEL_MASTER,
    # REDIS_SENTINEL_PASSWORD. None: REDIS_URL is the server itself. tracker.queues builds every client.
    REDIS_SENTINEL = redis_sentinel(env, REDIS_URL)
    EMAIL_HOST = env.str("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", 25, minimum=1)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", 30, minimum=1)
    DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "Tuleap <noreply@localhost>")
    LOGGER_LEVEL = logger_level(env)
    # "all" or project ids, asked through ASYNC_EMAILS.covers(project_id) and ASYNC_EMAILS.enabled.
    ASYNC_EMAILS = AsyncEmails(parse_async_emails(env.str("ASYNC_EMAILS")))
    NB_BACKEND_WORKERS = env.int("NB_BACKEND_WORKERS", 2, minimum=0)
    WORKER_LOG = env.str("WORKER_LOG", str(VAR_DIR / "log" / "worker.log"))
    # Pid files of the backend worker supervisor (manage.py backend_workers) and of its workers.
    WORKER_RUN_DIR = env.str("WORKER_RUN_DIR", str(VAR_DIR / "run"))
    # The host name the workers register with in Redis (rq's Worker.hostname) and that status and the
    # system check group them by: the machine's, unless two supervisors share one machine.
    WORKER_HOSTNAME = env.str("WORKER_HOSTNAME") or socket.gethostname()
    NOTIFICATION_PENDING_THRESHOLD = env.int("NOTIFICATION_PENDING_THRESHOLD", 120, minimum=1)
    NOTIFICATION_JOB_TIMEOUT = env.int("NOTIFICATION_JOB_TIMEOUT", 300, minimum=10)
    # The retry schedule of a notification that met a transient error (tracker/notifications/schedule.py):
    # these first pauses, then doubling up to NOTIFICATION_RETRY_MAX_INTERVAL, until
    # NOTIFICATION_GIVE_UP_AFTER seconds have passed since the record was created (or re-opened).
    NOTIFICATION_RETRY_INTERVALS = notification_retry_intervals(env)
    NOTIFICATION_RETRY_MAX_INTERVAL = env.int("NOTIFICATION_RETRY_MAX_INTERVAL", 1800, minimum=1)
    NOTIFICATION_GIVE_UP_AFTER = env.int("NOTIFICATION_GIVE_UP_AFTER", 24 * 3600, minimum=1)
    # The recovery sweep (backend_workers, or manage.py notifications_sweep): how often it runs, and how
    # long a record may wait for its job before the sweep presumes the job lost.
    NOTIFICATION_SWEEP_INTERVAL = env.int("NOTIFICATION_SWEEP_INTERVAL", 30, minimum=1)
    NOTIFICATION_RECOVERY_AFTER = env.int("NOTIFICATION_RECOVERY_AFTER", 60, minimum=1)
    # Emails one author's changes may cause per clock hour (0: no limit); the rest wait for the next hour.
    NOTIFICATION_AUTHOR_MAX_PER_HOUR = env.int("NOTIFICATION_AUTHOR_MAX_PER_HOUR", 2000, minimum=0)
    # Recipients per notification job: a changeset with more is split into batch jobs of this size,
    # which idle workers share (tracker/notifications/fanout.py).
    NOTIFICATION_BATCH_SIZE = env.int("NOTIFICATION_BATCH_SIZE", 100, minimum=1)
    # Changesets one notification job may send: its own, then those queued behind it (1: its own only;
    # tracker/notifications/drain.py).
    NOTIFICATION_JOB_CHANGESETS = env.int("NOTIFICATION_JOB_CHANGESETS", 50, minimum=1)
    # SMTP connections a notification worker keeps open from job to job, and may use at once for one
    # job's recipients (tracker/notifications/connection_pool.py); 1 to 50, Postfix's per-client limit.
    NOTIFICATION_SMTP_CONNECTIONS = notification_smtp_connections(env)
    # Seconds a kept SMTP connection may stay unused before the worker closes it (0: none kept).
    EMAIL_CONNECTION_MAX_IDLE = env.int("EMAIL_CONNECTION_MAX_IDLE", 30, minimum=0)
    # The system check purges ended notification records older than this.
    NOTIFICATION_RETENTION_DAYS = env.int("NOTIFICATION_RETENTION_DAYS", 7, minimum=1)
    # Seconds a Jira import may stay pending or running before the system check reports it stuck.
    JIRA_IMPORT_MAX_DURATION = env.int("JIRA_IMPORT_MAX_DURATION", 24 * 3600, minimum=60)
    METRICS_SECRET = env.str("METRICS_SECRET")
    METRICS_SECRET_FILE = env.str("METRICS_SECRET_FILE")
    ATTACHMENT_MAX_SIZE = env.int("ATTACHMENT_MAX_SIZE", 50 * 1024 * 1024, minimum=1)
    # Hosts a Jira import may reach even though they resolve to internal addresses.
    JIRA_ALLOWED_HOSTS = [host.lower() for host in env.list("JIRA_ALLOWED_HOSTS")]
    # A Fernet key for the Jira tokens kept while an import runs; derived from SECRET_KEY when unset.
    JIRA_TOKEN_KEY = env.str("JIRA_TOKEN_KEY")
    JIRA_REQUEST_TIMEOUT = env.int("JIRA_REQUEST_TIMEOUT", 30, minimum=1)
    JIRA_ATTACHMENT_MAX_SIZE = env.int("JIRA_ATTACHMENT_MAX_SIZE", 20 * 1024 * 1024, minimum=0)
    # Retries of a Jira request that failed for a transient reason (429/503 honouring Retry-After,
    # connection errors, timeouts, 502/504), and the longest wait between two; tests shorten the wait.
    JIRA_MAX_RETRIES = env.int("JIRA_MAX_RETRIES", 3, minimum=0)
    JIRA_RETRY_MAX_DELAY = env.int("JIRA_RETRY_MAX_DELAY", 60, minimum=0)
    # Issues asked for per search page; each page is written in one transaction.
    JIRA_IMPORT_PAGE_SIZE = env.int("JIRA_IMPORT_PAGE_SIZE", 50, minimum=1)
    # Who may create projects (web and API): "everyone" with an account, or "staff" (site admins) only.
    PROJECT_CREATORS = project_creators(env)
    # The email gateway (tracker/email_gateway): off while EMAIL_GATEWAY_DOMAIN is empty.
    EMAIL_GATEWAY_DOMAIN = env.str("EMAIL_GATEWAY_DOMAIN").lower()
    EMAIL_GATEWAY_PREFIX = email_gateway_prefix(env)
    EMAIL_GATEWAY_LISTEN = email_gateway_listen(env)
    # Only accept messages whose Authentication-Results (added by our receiving server) say DKIM or SPF
    # passed for the sender's domain.
    EMAIL_GATEWAY_REQUIRE_AUTH = env.bool("EMAIL_GATEWAY_REQUIRE_AUTH", default=False)
    EMAIL_GATEWAY_RETENTION_DAYS = env.int("EMAIL_GATEWAY_RETENTION_DAYS", 30, minimum=1)
    # Read by tuleap_backend.env, which the Django-free pipe (tracker.email_gateway.pipe) shares.
    _gateway_spool = email_gateway_spool(env)
    EMAIL_GATEWAY_MAX_SIZE = _gateway_spool.max_size
    # Where the pipe spools messages (maildir-style) for the LMTP process and the sweep to store.
    EMAIL_GATEWAY_SPOOL_DIR = str(_gateway_spool.directory)
    EMAIL_GATEWAY_SENDER_MAX_PER_HOUR = env.int("EMAIL_GATEWAY_SENDER_MAX_PER_HOUR", 60, minimum=0)
    # One short explanatory answer per sender and hour to a rejected message; off: never answer.
    EMAIL_GATEWAY_REPLY_ON_REJECT = env.bool("EMAIL_GATEWAY_REPLY_ON_REJECT", default=True)
    EMAIL_GATEWAY_JOB_TIMEOUT = env.int("EMAIL_GATEWAY_JOB_TIMEOUT", 120, minimum=10)
    # Workers the supervisor runs on the incoming_email queue while the gateway is on.
    EMAIL_GATEWAY_WORKERS = env.int("EMAIL_GATEWAY_WORKERS", 1, minimum=1)
    # An update from Jira asks for the issues updated since the previous run started, less this many
    # minutes: Jira reads the date to the minute, and clocks differ.
    JIRA_SYNC_MARGIN_MINUTES = env.int("JIRA_SYNC_MARGIN_MINUTES", 10, minimum=1)
    # Security (README: Security). Logins: lockout per username and per address (django-axes).
    LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
    LOGIN_COOLOFF_MINUTES = env.int("LOGIN_COOLOFF_MINUTES", 15, minimum=1)
    # Reverse proxies in front of gunicorn that append to X-Forwarded-For (0: it is ignored).
    TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", 0, minimum=0)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 0, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
    # The header the proxy sets to 'https' (such as X-Forwarded-Proto), as Django wants it; None: unset.
    SECURE_PROXY_SSL_HEADER = proxy_ssl_header(env)
except ConfigurationError as error:
    # One clear line naming the variable, then stop: a traceback here would hide the cause.
    sys.stderr.write(f"Configuration error: {error}\n")
    raise SystemExit(2) from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Before django_rq: our manage.py rqworker (and rqworker-pool) wraps django-rq's, so it must win.
    "tracker",
    "django_rq",
    "django_prometheus",
    "axes",
    "csp",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "tracker.web.middleware.reject_malformed_content_length",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout answer.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "tuleap_backend.urls"
WSGI_APPLICATION = "tuleap_backend.wsgi.application"
AUTH_USER_MODEL = "tracker.User"
LOGIN_URL = "tracker:login"
LOGIN_REDIRECT_URL = "tracker:project-list"
LOGOUT_REDIRECT_URL = "tracker:login"

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

# Checked wherever a password is set: the API, the admin, createsuperuser and changepassword; the user
# manager runs them for every account it creates (tracker/models/accounts.py, tracker/passwords.py).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "tracker.passwords.NotMostlyWhitespaceValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes (tracker/login_throttling.py): LOGIN_FAILURE_LIMIT failures for a username, or from an
# address, lock that username or address out for LOGIN_COOLOFF_MINUTES, the right password included.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = dt.timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "tracker.login_throttling.lockout_response"
AXES_CLIENT_IP_CALLABLE = "tracker.login_throttling.client_address"
# Failures are kept (AccessAttempt, until the cool-off ends); a row per successful login is not.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"
# Uploaded and imported attachments (tests and benchmarks point their worker processes elsewhere).
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Attachments are served by a permission-checked view, never from MEDIA_URL directly.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Content-Security-Policy (django-csp): nothing inline, nothing from another site. Images of user and
# imported content from other sites are links instead (tracker/services/rendering.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = SITE_URL.startswith("https://")
X_FRAME_OPTIONS = "DENY"
# A JSON answer under /api/, Django's page elsewhere.
CSRF_FAILURE_VIEW = "tracker.api.errors.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True

if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    # No mail server configured: every message is written as a file under var/mail/.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["tracker.api.parsers.StrictJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "tracker.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tuleap backend API",
    "DESCRIPTION": "Projects, trackers and artifacts with full history.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc assets are served by the app itself (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Without deep links: Swagger UI puts each operation's link inside the <button> that expands it, a
    # link no keyboard or screen reader reaches (axe-core: nested-interactive; swagger-ui issue 9576).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
}

NOTIFICATIONS_QUEUE = "notifications"
JIRA_IMPORT_QUEUE = "jira_import"
INCOMING_EMAIL_QUEUE = "incoming_email"
# Each queue's default job timeout (seconds); django-rq reaches them at REDIS_URL, or through the
# sentinels when REDIS_SENTINEL is set.
RQ_QUEUES = rq_queues(
    REDIS_URL,
    REDIS_SENTINEL,
    {
        NOTIFICATIONS_QUEUE: NOTIFICATION_JOB_TIMEOUT,
        JIRA_IMPORT_QUEUE: 6 * 3600,
        # Declared whatever the gateway says; workers run on it only when EMAIL_GATEWAY_DOMAIN is set.
        INCOMING_EMAIL_QUEUE: EMAIL_GATEWAY_JOB_TIMEOUT,
    },
)
RQ_SHOW_ADMIN_LINK = True
# Queue and worker classes that count queue events for /metrics (tracker/monitoring/rq_hooks.py),
# used by django_rq.get_queue()/enqueue() and by manage.py rqworker alike.
RQ = {
    "QUEUE_CLASS": "tracker.monitoring.rq_hooks.MeteredQueue",
    "WORKER_CLASS": "tracker.monitoring.rq_hooks.MeteredWorker",
}

# django-prometheus's database wrappers and our counted cache feed /metrics (tracker/monitoring)
# with query, error and cache-hit counts; otherwise they behave as Django's own backends.
_DB_BACKEND = DATABASES["default"]["ENGINE"].removeprefix("django.db.backends.")
if _DB_BACKEND in {"postgresql", "sqlite3", "mysql"}:
    DATABASES["default"]["ENGINE"] = f"django_prometheus.db.backends.{_DB_BACKEND}"
CACHES = {"default": {"BACKEND": "tracker.monitoring.cache.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOGGER_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "tracker": {"handlers": ["console"], "level": LOGGER_LEVEL, "propagate": False},
        "rq.worker": {"handlers": ["console"], "level": LOGGER_LEVEL, "propagate": False},
    },
}

# Backend workers (manage.py rqworker) and their supervisor (manage.py backend_workers) write their log
# to WORKER_LOG: those commands add the file handlers (tracker/workers/logs.py), not these settings.
