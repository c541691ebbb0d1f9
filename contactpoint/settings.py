"""Django settings for ContactPoint, read from the environment (see README "Configuration")."""

import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from contactpoint.database import database_config, embedded_server_url
from contactpoint.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_optional,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# "production" turns on every setting that must never be off in a real deployment.
ENVIRONMENT = env_str("CONTACTPOINT_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("CONTACTPOINT_ENV must be development or production")
PRODUCTION = ENVIRONMENT == "production"


def _development_secret_key() -> str:
    """A per-checkout key kept in var/, so sessions survive restarts and no key is in git."""
    path = VAR_DIR / "secret-key"
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_optional("SECRET_KEY") or ""
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    SECRET_KEY = _development_secret_key()
elif PRODUCTION and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters in production")

# Keys replaced: sessions and links signed with them still open, and the digests of purged
# feed records made with them still keep those people out (directory.PurgedFeedRecord).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

DEBUG = env_bool("DEBUG", False)
if DEBUG and PRODUCTION:
    raise ImproperlyConfigured("DEBUG must be off in production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
if PRODUCTION and (not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS or not env_optional("ALLOWED_HOSTS")):
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the service's host names in production")

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "auditlog",
    "accounts",
    # After accounts: its clearsessions, which records each expired session's sign-out,
    # replaces Django's (of two apps with a command of the same name, the first listed wins).
    "django.contrib.sessions",
    "directory",
    "shielding",
    "audit",
]

MIDDLEWARE = [
    # The page headers go on every response: outside the audit transaction, so that its own
    # "service unavailable" page has them, and outside the security middleware, so that its
    # refusal of an unknown host and its redirect to HTTPS have them too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "contactpoint.middleware.NoStoreMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Everything below runs in one transaction with the request's audit event (fail closed).
    "audit.recorder.AuditMiddleware",
    # Before anything reads a body: too large, of no stated length, or not UTF-8.
    "contactpoint.middleware.RequestBodyMiddleware",
    # Before any other view check: only the methods each page is for (GET, HEAD; POST).
    "contactpoint.middleware.MethodMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The one place that decides who may reach which page (two factors, sessions, access).
    "accounts.middleware.AccessControlMiddleware",
    "contactpoint.middleware.ChangeLogMiddleware",
]

ROOT_URLCONF = "contactpoint.urls"
WSGI_APPLICATION = "contactpoint.wsgi.application"

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
                "accounts.context_processors.navigation",
            ],
        },
    },
]

DATABASE_URL = env_optional("DATABASE_URL")
if DATABASE_URL is None and PRODUCTION:
    raise ImproperlyConfigured("DATABASE_URL must be set in production")
DATABASES = {"default": database_config(DATABASE_URL or embedded_server_url())}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Search and record reads go to a streaming replica where there is one (contactpoint/routers.py);
# without one, to the primary. In tests the replica alias mirrors the primary and is used.
DATABASE_REPLICA_URL = env_optional("DATABASE_REPLICA_URL")
READ_REPLICA = DATABASE_REPLICA_URL is not None
DATABASES["replica"] = {
    # A replica that does not answer is passed over (contactpoint/routers.py): give up on
    # it sooner than on the primary, unless its URL says otherwise.
    **(
        database_config(DATABASE_REPLICA_URL, connect_timeout=2)
        if DATABASE_REPLICA_URL
        else DATABASES["default"]
    ),
    "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
    "CONN_HEALTH_CHECKS": True,
    "TEST": {"MIRROR": "default"},
}
DATABASE_ROUTERS = ["contactpoint.routers.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions and sign-in (DESIGN.md "Authentication").
SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 20, minimum=1))
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=env_int("SESSION_ABSOLUTE_HOURS", 10, minimum=1))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
# Django's database sessions, kept through a double click on "Change password".
SESSION_ENGINE = "accounts.sessions"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_NAME = "contactpoint_session"
LOCKOUT_USERNAME_FAILURES = env_int("LOCKOUT_USERNAME_FAILURES", 5, minimum=1)
LOCKOUT_IP_FAILURES = env_int("LOCKOUT_IP_FAILURES", 20, minimum=1)
LOCKOUT_PERIOD = timedelta(minutes=env_int("LOCKOUT_MINUTES", 30, minimum=1))
SETUP_LINK_VALID_FOR = timedelta(hours=72)
VETTING_VALID_YEARS = 3
TRAINING_VALID_YEARS = env_int("TRAINING_VALID_YEARS", 3, minimum=1)
DORMANT_AFTER_DAYS = 90
BACKUP_CODE_COUNT = 10
OTP_TOTP_ISSUER = "ContactPoint"
# Proxies whose X-Forwarded-For is believed when recording a client's address: addresses or
# ranges (10.0.0.0/8).
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")
# The address set-up links are built on, e.g. https://contactpoint.example.gov.uk
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").strip()
if PRODUCTION and not (SITE_URL.startswith("https://") and urlsplit(SITE_URL).hostname):
    raise ImproperlyConfigured("SITE_URL must be the service's https:// address in production")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
# Our own static files, and GOV.UK Frontend as `make setup` builds it (not committed).
STATICFILES_DIRS = [BASE_DIR / "static", BASE_DIR / "build" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Strict Content Security Policy: no inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # A load balancer probes over plain HTTP inside the network; the check shows no data.
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # The TLS-terminating proxy in front of gunicorn says whether the request was HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            # A database error's DETAIL, which holds the refused row's values, is left out.
            "()": "contactpoint.log_lines.WithoutRowValuesFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    # A failed request's path is logged: never with a set-up link's token (secret_paths.py).
    "filters": {"secret_paths": {"()": "contactpoint.secret_paths.SecretPathFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["secret_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"faker": {"level": "WARNING"}, "pgserver": {"level": "WARNING"}},
}

# Request bodies (contactpoint/middleware.py): the largest a page takes, and the largest a page
# that takes a file (the feed upload) takes. Set the proxy's limit to the larger.
LARGEST_REQUEST_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FEED_UPLOAD_MAX_BYTES = 50 * 2**20
LARGEST_UPLOAD_BYTES = FEED_UPLOAD_MAX_BYTES + 2**20  # the file, and the form around it
UPLOAD_PATHS = frozenset({"/feeds/"})

# make loadtest only: routes a minimal view (the throughput ceiling), unaudited and public.
LOADTEST_CEILING = env_bool("LOADTEST_CEILING", False)
LOADTEST_ON_PRODUCTION_SETTINGS = env_bool("LOADTEST_ON_PRODUCTION_SETTINGS", False)
if LOADTEST_CEILING and PRODUCTION and not LOADTEST_ON_PRODUCTION_SETTINGS:
    raise ImproperlyConfigured("LOADTEST_CEILING is for the load test only")

# The demo data's fixed seed, so every newcomer sees the same children.
DEMO_SEED = env_int("DEMO_SEED", 2009)

# The access log (audit app): how long events are kept, and how far ahead partitions exist,
# each with the most it may be (audit_retention and audit_partitions refuse more): far more
# counts back or on past the years a date can have.
AUDIT_RETENTION_MOST_YEARS = 100
AUDIT_RETENTION_YEARS = env_int(
    "AUDIT_RETENTION_YEARS", 7, minimum=1, maximum=AUDIT_RETENTION_MOST_YEARS
)
AUDIT_PARTITION_MONTHS_AHEAD = 3
AUDIT_PARTITION_MOST_MONTHS_AHEAD = 120
# The "many records viewed in a short time" report: this many record views in 10 minutes.
AUDIT_MANY_VIEWS = env_int("AUDIT_MANY_VIEWS", 30, minimum=1)
# The most events one CSV export holds: streamed at about 35,000 a second, a larger one would
# outlast gunicorn's timeout and be cut off mid-file with nothing to say so.
AUDIT_EXPORT_MAX_ROWS = env_int("AUDIT_EXPORT_MAX_ROWS", 500_000, minimum=1)

# Search (directory app): anti-trawling cap, how many candidates are scored, the lowest score
# shown, and each user's search rate limit.
SEARCH_RESULT_CAP = env_int("SEARCH_RESULT_CAP", 20, minimum=1)
SEARCH_MAX_CANDIDATES = env_int("SEARCH_MAX_CANDIDATES", 500, minimum=1)
SEARCH_MIN_SCORE = env_int("SEARCH_MIN_SCORE", 70, maximum=100)  # scores are out of 100
SEARCH_RATE_LIMIT = env_int("SEARCH_RATE_LIMIT", 30)
# 0 turns the limit off: only for the load test, whose users search without pause.
if SEARCH_RATE_LIMIT == 0 and PRODUCTION and not LOADTEST_ON_PRODUCTION_SETTINGS:
    raise ImproperlyConfigured("SEARCH_RATE_LIMIT must be at least 1 in production")
SEARCH_RATE_WINDOW = timedelta(minutes=env_int("SEARCH_RATE_WINDOW_MINUTES", 10, minimum=1))

# Shielding: how long a shield lasts before review, and how long an override's visit is open.
SHIELD_REVIEW_MONTHS = 6
OVERRIDE_VISIT_MINUTES = 5

# Data feeds: Fellegi-Sunter match weights (None: the measured defaults in
# directory/matching.py) and the thresholds between new child, review and automatic match.
FEED_MATCH_LEVELS = None
FEED_MATCH_UPPER = env_float("FEED_MATCH_UPPER", 17)
FEED_MATCH_LOWER = env_float("FEED_MATCH_LOWER", 8)
FEED_MATCH_MARGIN = env_float("FEED_MATCH_MARGIN", 4)
if FEED_MATCH_MARGIN < 0:
    raise ImproperlyConfigured("FEED_MATCH_MARGIN must not be negative")
if FEED_MATCH_LOWER > FEED_MATCH_UPPER:
    raise ImproperlyConfigured("FEED_MATCH_LOWER must not be above FEED_MATCH_UPPER")
# A file with more rows than this is imported by `manage.py import_waiting_feeds`, not while the
# data manager waits: a row can take 30 ms against 1,000,000 children, and gunicorn gives a
# request 30 s.
FEED_WEB_IMPORT_ROWS = env_int("FEED_WEB_IMPORT_ROWS", 200, minimum=1)
# A file larger than this is not even checked while the data manager waits: it waits for the
# same command, which checks it as it imports it. The check reads every row: 1.6 s for a 2 MB
# census file of 20,000 rows against 1,000,000 children, on a slow day; a review measured 74 to
# 171 s for files of about 45 MB.
FEED_WEB_CHECK_BYTES = env_int("FEED_WEB_CHECK_BYTES", 2 * 2**20, minimum=1)
