"""Settings, read from the environment (12-factor).

With nothing configured the app runs on the *embedded default*: a SQLite file, a
filesystem Celery broker and emails written as files, all under ``var/``. Production
(``APP_ENV=production``) refuses to start without a real secret, database and broker.
Every variable is documented in the README.
"""

import re
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

APP_ENV = env.str("APP_ENV", default="development")
if APP_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"APP_ENV must be 'development' or 'production', not {APP_ENV!r}")
PRODUCTION = APP_ENV == "production"

# Everything the embedded default writes lives here; git-ignored.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _require(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when APP_ENV=production")
    return value


def _development_secret_key() -> str:
    # Generated once per checkout so sessions survive restarts, never committed.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = _require("SECRET_KEY")
    if len(SECRET_KEY) < 32 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("SECRET_KEY must be a real secret of at least 32 characters")
    _require("DATABASE_URL")
    _require("CELERY_BROKER_URL")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _development_secret_key()

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc served locally: no CDN at run time
    "django_filters",
    "pgtrigger",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "axes",
    "practices",
    "referrals",
    # LAYERS (issue 12, item 1): alerts have their own app between referrals and
    # communications, so letter delivery and the nightly run both import them downward.
    "alerts",
    "communications",
    "analytics",
    # DATA (issue 10, item 7): a practice's export and re-import.
    "portability",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "practices.middleware.PracticeMiddleware",
    # After the practice (its limit); before anything that sends a person somewhere else.
    "practices.idle.IdleLogoutMiddleware",
    # After the practice is known: its policy says who must have a second factor.
    "practices.two_factor.TwoFactorEnrolmentMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during the login into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "practices.context_processors.current_practice",
                "analytics.context_processors.alert_count",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL binds each connection to the current practice for row-level security
    # (docs/security.md "Row-level security"); SQLite has no such wall.
    DATABASES["default"]["ENGINE"] = "config.db.postgresql"
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
# --- Faults (issue 10, item 6; docs/reliability.md) ----------------------------------------
# A kept connection (DB_CONN_MAX_AGE > 0) is checked before a request reuses it, so after a
# database restart the first request reconnects instead of failing on a dead connection.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the embedded worker read and write side by side.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "practices.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Argon2 first: new and changed passwords are hashed with it; the others only let an old
# hash be checked once, and Django rehashes it with Argon2 at that login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# Accounts (django-allauth): email and password, then the second factor. Nobody signs up:
# people join by an administrator's invitation, whose address is therefore known.
ACCOUNT_ADAPTER = "practices.accounts.AccountAdapter"
ACCOUNT_FORMS = {"login": "practices.accounts.LoginForm"}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
# A reset asked for an address nobody uses says the same as for a real one, and writes to no
# one: accounts exist by invitation, so a stranger's address is not ours to email.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
PASSWORD_RESET_TIMEOUT = 60 * 60  # a reset link works once, within the hour
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
# allauth's rate limits (ACCOUNT_RATE_LIMITS) are set from RATE_LIMITS, below the cache.
MFA_ADAPTER = "practices.mfa.MFAAdapter"
# Security keys and passkeys (WebAuthn) as a second factor, besides the authenticator app.
# allauth's WebAuthn pages load their scripts from static files (no inline script).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
# Browsers offer WebAuthn on https:// and on http://localhost only; the server checks the
# origin unless this is on (development on http, never production).
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env.bool(
    "MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", default=DEBUG and not PRODUCTION
)
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="OMS Referrals")
MFA_RECOVERY_CODE_COUNT = 10

# Lockout (django-axes, database handler): an account is locked after LOGIN_FAILURES_PER_ACCOUNT
# failed logins, an address after LOGIN_FAILURES_PER_ADDRESS (one address trying many accounts),
# each for LOGIN_LOCKOUT_MINUTES after its last failure. An administrator can unlock earlier.
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=20)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_HANDLER = "practices.lockout.LockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = LOGIN_FAILURES_PER_ACCOUNT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_RESET_ON_SUCCESS = False  # a success in between must not wipe an attacker's count
AXES_USERNAME_CALLABLE = "practices.lockout.typed_email"
AXES_CLIENT_IP_CALLABLE = "practices.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "practices.lockout.lockout_response"
AXES_VERBOSE = False
# Successful logins are in the audit log already; axes' own access log would keep a second,
# unbounded copy with session hashes.
AXES_DISABLE_ACCESS_LOG = True
# Never store what was typed in the login form (the password is cleansed, but the rest of a
# POST has no business in a table kept for weeks).
AXES_SENSITIVE_PARAMETERS = ["password", "login", "email", "csrfmiddlewaretoken"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The server's zone; each practice has its own zone for its dates and nightly jobs.
TIME_ZONE = env.str("TIME_ZONE", default="America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The Docker image collects static files at build time into its own folder (STATIC_ROOT),
# so a container starts without minutes of compressing and a new image never serves old files.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
# WhiteNoise warns at startup when this folder is missing (before the first collectstatic,
# and in every test run); in development it serves from the finders anyway.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    # Private files (attachments, letter PDFs): never served by URL, only through views
    # that check the practice and the login.
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Cache: Redis when configured (rate limits must be shared between processes),
# else files under var/ which several local processes can share too.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Faults (issue 10, item 6): Redis down is a cold cache, not an error page, and
            # the rate limits let requests through (config/cache.py); short timeouts so a
            # hung Redis costs a page little.
            "BACKEND": "config.cache.TolerantRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# The public referral form limits submissions per client address (django-ratelimit). Behind
# a reverse proxy REMOTE_ADDR is the proxy's, and every office would share one limit: name
# the header in which the proxy puts the client's address, e.g. HTTP_X_REAL_IP.
RATELIMIT_IP_META_KEY = env.str("RATELIMIT_IP_META_KEY", default="") or None
# Faults (issue 10, item 6): with the cache (Redis) unreachable a limit cannot be counted;
# the public referral form then accepts the referral rather than refuse every GP office.
# The form's other defences (honeypot, file checks) do not need the cache.
RATELIMIT_FAIL_OPEN = True
# allauth's own rate limits (password reset requests, logins per minute) read the same header.
if RATELIMIT_IP_META_KEY and RATELIMIT_IP_META_KEY.startswith("HTTP_"):
    ALLAUTH_TRUSTED_CLIENT_IP_HEADER = RATELIMIT_IP_META_KEY[5:].replace("_", "-")

# --- Rate limits (issue 10, LIMITS part; docs/security.md "Rate limits") ------------------
# Every door a stranger can knock on, in one table. A rate is "COUNT/PERIOD", PERIOD being
# s, m, h or d with an optional number ("5/10m": five per ten minutes). Each can be changed
# with its environment variable RATE_LIMIT_<NAME> (e.g. RATE_LIMIT_API=1200/m); an empty
# value switches that limit off. The counts live in the cache above (Redis in production), so
# every web process shares them. Over a limit the answer is 429 with Retry-After and a
# message: a page for a browser, JSON for the API. Wrong passwords are not counted here:
# django-axes locks the account or the address (LOGIN_FAILURES_* above).
_RATE_LIMIT_DEFAULTS = {
    # Login form posts per client address (allauth's "login", right or wrong password).
    "login": "30/m",
    # Password-reset requests per client address, and per typed email (each may send a mail).
    "password_reset": "10/h",
    "password_reset_per_email": "3/h",
    # The page a reset link opens (set a new password) per client address: guessing links.
    "password_reset_link": "20/m",
    # Second-factor codes (TOTP, recovery codes) tried per account at the login's second
    # step: only someone who has the password gets there, and django-axes does not count it.
    "two_factor": "5/5m",
    # The public referral form: submissions (POSTs) per client address.
    "online_referral": "5/10m",
    # The GP status page and its letter PDFs, per client address (unknown tokens count too).
    "status_page": "60/10m",
    # The REST API per API key (a practice may have several keys: each has its own count).
    "api": "600/m",
    # The API's public pages (schema, docs) and calls with an unknown key, per address.
    "api_public": "60/m",
}
RATE_LIMITS = {
    name: env.str(f"RATE_LIMIT_{name.upper()}", default=rate) or None
    for name, rate in _RATE_LIMIT_DEFAULTS.items()
}
for _name, _rate in RATE_LIMITS.items():
    # Refused at start-up, not at the first request that counts.
    if _rate and not re.fullmatch(r"[0-9]+/[0-9]*[smhd]", _rate):
        raise ImproperlyConfigured(
            f"RATE_LIMIT_{_name.upper()} must be COUNT/PERIOD, e.g. 600/m or 5/10m, not {_rate!r}"
        )


def _allauth_rate(*parts: tuple[str, str]) -> str | None:
    # allauth writes "COUNT/PERIOD/PER" with PER "ip" or "key", rates joined by commas.
    rates = [f"{RATE_LIMITS[name]}/{per}" for name, per in parts if RATE_LIMITS[name]]
    return ",".join(rates) or None


# allauth enforces the account limits itself (and answers with the 429.html template, via
# config.urls.handler429, which adds Retry-After).
ACCOUNT_RATE_LIMITS = {
    # allauth counts failed logins and wrong second-factor codes under "login_failed". Failed
    # passwords are django-axes' (one counter, one message): our adapter leaves them out
    # (AccountAdapter.pre_authenticate), so this limits the second factor only.
    "login_failed": _allauth_rate(("two_factor", "key")),
    "login": _allauth_rate(("login", "ip")),
    "reset_password": _allauth_rate(("password_reset", "ip"), ("password_reset_per_email", "key")),
    "reset_password_from_key": _allauth_rate(("password_reset_link", "ip")),
}

# Email: SMTP (or any backend) from EMAIL_URL; unset writes each email as a file.
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url_config(EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Referrals <referrals@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: a real broker from CELERY_BROKER_URL, else kombu's filesystem transport under
# var/ so a newcomer needs no server at all.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="")
if not CELERY_BROKER_URL:
    _broker_dir = VAR_DIR / "celery" / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        # kombu's default is a "control" folder in the working directory.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "polling_interval": 0.1,
    }
    if not CELERY_RESULT_BACKEND:
        _results_dir = VAR_DIR / "celery" / "results"
        _results_dir.mkdir(parents=True, exist_ok=True)
        CELERY_RESULT_BACKEND = f"file://{_results_dir}"
elif not CELERY_RESULT_BACKEND:
    CELERY_RESULT_BACKEND = CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600 * 24
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
# The API's rate limit per key (RATE_LIMITS["api"], LIMITS part of issue 10).
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["referrals.api.throttling.ApiKeyRateThrottle"]
SPECTACULAR_SETTINGS = {
    "TITLE": "OMS Referrals API",
    "DESCRIPTION": "Referrals, milestones and referrer health for PMS integrations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components: read-only fields are not offered as
    # input, and required text fields say they may not be blank.
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No "online validator" badge: it would send the schema's URL to swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Referrals and referrer scores both have a "status": name each choice set's component.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "referrals.choices.Status",
        "ReferrerStatusEnum": "analytics.choices.ReferrerStatus",
    },
    # --- Issue 10, API part: the schema states what the API requires (rules that join
    # fields, dates not in the future, no NUL) and links create -> read -> milestone.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "referrals.api.schema.require_what_the_api_requires",
    ],
}

# --- The browser: what a page may load and run, and what it tells others -----------------
# (docs/security.md, "The browser"). No inline script anywhere: page code lives in
# static/js/ and reads its data from json_script / data attributes, so script-src needs
# neither 'unsafe-inline' nor 'unsafe-eval'.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # No 'unsafe-inline' for styles either: they need none. htmx's indicator rules are
        # in app.css and it does not settle "style" (base.html's htmx-config); Plotly's
        # rules are in static/css/plotly.css (includes/charts.html); Swagger UI's in
        # swagger_ui.css. The letter editor's preview adds its letter's <style> by hash.
        "style-src": [SELF],
        # Letter logos are embedded as data: URIs (they must stand alone in a PDF or an
        # email); Swagger UI draws its icons from data: SVGs.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        # Nobody frames our pages (clickjacking); X-Frame-Options: DENY says it to old
        # browsers too.
        "frame-ancestors": [NONE],
    },
}
X_FRAME_OPTIONS = "DENY"
# The status page (a GP's secret link) sets its own "no-referrer"; SecurityMiddleware only
# fills the header in where a view has not.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
# No page of ours uses these; an injected script could not either. (Only features Chromium
# knows: it warns in the console about any other.)
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

SESSION_COOKIE_HTTPONLY = True
# Lax: the cookie goes with a click on a link from an email (a letter link, an invitation)
# but not with another site's POST, image or frame.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if PRODUCTION:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # The load balancer's health check speaks plain http to the container.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # check --deploy asks for preload (W021). Preloading is a promise, made once on
        # hstspreload.org by whoever owns the registered domain, that every subdomain
        # serves HTTPS for good and is hard to take back: the operator opts in with
        # SECURE_HSTS_PRELOAD=true, the app does not make it for them.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Logs carry ids, never patient names, dates of birth or notes (PHI).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    # Request lines lose their query strings and status tokens (config/log_redaction.py).
    "filters": {"redact": {"()": "config.log_redaction.RedactRequestLines"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
        "server": {"class": "logging.StreamHandler", "formatter": "server", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's default config gives "django" a console handler of its own: left alone,
        # every Django message (e.g. runserver's reloads) would be printed twice. Naming
        # "django" resets its children, so runserver's request log is restated as it was.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint logs several INFO lines per PDF (fonts, stylesheets).
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# The public address of the app, for links in emails (no trailing slash).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# How long an invitation link works.
INVITATION_VALID_DAYS = env.int("INVITATION_VALID_DAYS", default=7)

# Issue 11 item 4 (NIGHT): practices per nightly task (analytics/nightly_batch.py). Larger
# batches mean fewer statements per practice; smaller ones spread a night over more workers.
NIGHTLY_BATCH_SIZE = env.int("NIGHTLY_BATCH_SIZE", default=100)

CELERY_BEAT_SCHEDULE = {
    "nightly-referrer-health": {
        "task": "analytics.tasks.schedule_nightly_recomputes",
        "schedule": 15 * 60,  # checks each practice's local hour; claims once per local day
    },
    "outbox-sweeper": {"task": "communications.tasks.sweep_outbox", "schedule": 60},
    # GP letters: stuck sends requeued, post-op updates queued on their morning, retries.
    "letter-sweeper": {"task": "communications.tasks.sweep_letters", "schedule": 60},
    # Monthly referrer review and quarterly report: checks each practice's local date and
    # hour; one outbox row per period.
    "report-emails": {"task": "analytics.tasks.schedule_report_emails", "schedule": 60 * 60},
}

# --- DATA (issue 10, item 7): a practice's export (portability/, docs/data-export.md) ---
# How long the download link of a practice's export works; the file is deleted after.
PRACTICE_EXPORT_VALID_HOURS = env.int("PRACTICE_EXPORT_VALID_HOURS", default=24)
CELERY_BEAT_SCHEDULE["expire-practice-exports"] = {
    "task": "portability.tasks.expire_practice_exports",
    "schedule": 60 * 60,
}

# --- SMALL (issue 11 item 5): snoozed alerts reopen on their date, in each practice's
# time zone, within 15 minutes of local midnight (not only at the nightly run).
CELERY_BEAT_SCHEDULE["wake-snoozed-alerts"] = {
    "task": "analytics.tasks.wake_snoozed_alerts",
    "schedule": 15 * 60,
}

# --- Faults (issue 10 item 6): imports, exports and "compute now" asked for while the broker
# was down wait as rows; this hands them to a worker once it is back (practices/dispatch.py,
# docs/reliability.md).
CELERY_BEAT_SCHEDULE["job-redispatch-sweeper"] = {
    "task": "practices.tasks.redispatch_waiting_jobs",
    "schedule": 60,
}
