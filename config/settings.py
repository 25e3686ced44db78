"""One settings module, read from the environment (see .env.example for every variable).

With nothing configured the app runs on SQLite under var/ with Celery tasks executed
in-process, so `make run` works on a laptop. Production sets DJANGO_DEBUG=false,
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL and REDIS_URL; start-up stops with a
clear message when one of the secrets is missing.
"""

from __future__ import annotations

from pathlib import Path

from celery.schedules import crontab
from django.utils.csp import CSP

from core.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_required,
    env_str,
    load_dotenv,
)
from sessions.encryption import note_keys

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # git-ignored: the embedded SQLite database, sent e-mail, media
(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)  # SQLite won't make its folder

load_dotenv(BASE_DIR / ".env")

DEBUG = env_bool("DJANGO_DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-development-key-never-use-in-production")
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
else:
    SECRET_KEY = env_required(
        "DJANGO_SECRET_KEY",
        "a production deployment needs its own secret key (or set DJANGO_DEBUG=true locally).",
    )
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        env_required(
            "DJANGO_ALLOWED_HOSTS",
            "with DEBUG off Django must know the host names it serves (comma-separated).",
        )

# Keys for private notes and reflections, encrypted at rest (sessions.encryption): Fernet keys,
# comma-separated, newest first; new notes use the first, reads try each. Their own secret, never
# derived from SECRET_KEY. DEBUG without any uses a public development key; production without
# any, or with a malformed one, stops here naming the variable (never printing a key).
# Rotating them without downtime: sessions/management/commands/rotate_note_keys.py.
PRIVATE_NOTE_KEYS = note_keys(env_list("PRIVATE_NOTE_KEYS"), debug=DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # Ours, from the ground floor up (docs/architecture.md says who may import whom).
    "core",
    "people",
    "cycles",
    "sessions.apps.TherapySessionsConfig",  # label "therapy_sessions": see README
    "ruptures",
    "flags",
    "plans",
    "supervision",
    "consultation",
    "invitations",
    "exports",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Before the session limits, so an expired htmx request is sent to login as a whole page.
    "django_htmx.middleware.HtmxMiddleware",
    "people.middleware.SessionLimitsMiddleware",
    # Pages and forms in the signed-in person's practice's time zone (after the session limits,
    # so a session about to end spends nothing on it).
    "people.middleware.PracticeTimeZoneMiddleware",
    "people.middleware.RequireMFAMiddleware",
    "people.audit_db.ActingUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "people.middleware.NoStoreMiddleware",
    "people.middleware.PartnerScreenLockMiddleware",
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
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

FORM_RENDERER = "config.forms.FormRenderer"

# Database: SQLite under var/ unless DATABASE_URL names a PostgreSQL server.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis is the Celery broker when REDIS_URL is set; otherwise tasks run in-process.
REDIS_URL = env_str("REDIS_URL")
# The cache holds the sign-in throttle's counters, the authenticator codes already used and the
# workers' heartbeat (config.celery), so it lives in the database, never in Redis: signing in
# needs PostgreSQL anyway (accounts, sessions), so this adds no dependency, and a Redis outage
# can neither break sign-in nor reset the throttle. The table is made by `migrate` (ruptures
# 0009 runs createcachetable). SQLite (the local demo): per-process memory.
if DATABASE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cycles_cache",
            # Past this many rows a write culls, expired rows first. Each write counts the rows,
            # so not much more; live keys (a few per sign-in for 15 minutes) stay far below.
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "people.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

# Sign-in through django-allauth with TOTP (and recovery codes) required for everyone
# (people.middleware.RequireMFAMiddleware). Accounts are made by practice admins: no sign-up.
ACCOUNT_ADAPTER = "people.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_REAUTHENTICATION_TIMEOUT = 5 * 60
# How many proxies in front of the app append to X-Forwarded-For: 0 trusts no header and uses
# the connection's address. Both the sign-in throttle and the audit trail's "from where" use it.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Failed sign-ins: at most 5 per account and 20 per address in 15 minutes, then refused for a
# while with a message. Counters live in the cache (a database table: shared by every process).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "20/900s/ip,5/900s/key",
    "reauthenticate": "10/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_ALLOW_UNVERIFIED_EMAIL = True
MFA_TOTP_ISSUER = "Cycles"
# A used code is refused as used, not as incorrect (people.forms).
MFA_FORMS = {
    "authenticate": "people.forms.AuthenticateForm",
    "reauthenticate": "people.forms.ReauthenticateForm",
}
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 15 * 60)
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60)
# A password-reset link a practice admin sends (people.offboarding) works once, for a day.
PASSWORD_RESET_TIMEOUT = 24 * 60 * 60
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Sessions end after 15 idle minutes or 12 hours (people.middleware.SessionLimitsMiddleware).
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True

# Security headers. The content security policy has no unsafe-inline and no unsafe-eval:
# templates carry no inline script or style, and htmx runs with allowEval off (base.html).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

HTTPS = env_bool("DJANGO_HTTPS", default=not DEBUG)
if HTTPS:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# E-mail: written to the console by default; SMTP when EMAIL_HOST is set (Django 6.1 MAILERS).
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": EMAIL_HOST,
                "port": env_int("EMAIL_PORT", 587),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", default=True),
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
        }
    }
del EMAIL_HOST
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Cycles <no-reply@cycles.invalid>")

# Celery (config/celery.py reads every CELERY_* setting). Without REDIS_URL, tasks run
# in-process so the app works alone; with it, a worker and one beat process do the work.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
# A message a SIGKILLed worker held comes back only after the visibility timeout; the watchdog
# (flags.tasks.Watchdog) resumes a stalled run long before that, from its stored cursor.
# Connecting gives up after 2 s, so a publish to a broker that is down fails fast (Run now says
# so) instead of hanging a web request.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60, "socket_connect_timeout": 2}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Every quarter hour, start (or resume) each practice's nightly summaries once its local
    # hour (SignalThresholds.nightly_run_hour, in the practice's time zone) has come: a missed
    # tick is caught up by the next, a doubled one finds the run already there.
    "nightly-summaries": {
        "task": "flags.tasks.start_due_runs",
        "schedule": crontab(minute="*/15"),
    },
}
NIGHTLY_CHUNK_SIZE = env_int("NIGHTLY_CHUNK_SIZE", 250)
# Each worker's watchdog (flags.tasks.Watchdog), every WORKER_WATCHDOG_SECONDS: writes the
# worker heartbeat /health/ reads, and queues again the next chunk of any run whose row no chunk
# holds and that has not moved for NIGHTLY_LEASE_SECONDS (a worker killed mid-chunk, a chain
# broken by a broker outage): such a run resumes within lease + period, not at beat's next
# tick. The lease is far above the gap between two chunks of a healthy run (milliseconds).
WORKER_WATCHDOG_SECONDS = 10
NIGHTLY_LEASE_SECONDS = 30
# /health/ (config.health.health) checks the database, cache, broker and worker itself, and adds
# these sections: people imports no clinical app, so the nightly runs' report is named here.
HEALTH_SECTIONS = {"nightly": "flags.runs.health"}
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
# A partner's private remote answer link works once, for this many hours (invitations.links).
INVITATION_LINK_HOURS = env_int("INVITATION_LINK_HOURS", 72)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "redacted": {
            "()": "config.logging.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "redacted"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # SQL with its parameters would carry clinical text: never below WARNING.
        "django.db.backends": {"level": "WARNING", "propagate": True},
        # Celery's own handlers would print results and exceptions unredacted.
        "celery": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
