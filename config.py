"""Settings from the environment, with safe generated defaults for development."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
import os
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyrage

# Secrets the app refuses to start without in production. Development generates them.
REQUIRED_SECRETS = ("SECRET_KEY", "CASE_MASTER_KEY", "BLIND_INDEX_KEY")
GENERATED_SECRETS = (*REQUIRED_SECRETS, "STRIPE_WEBHOOK_SECRET")
DEV_SECRETS_FILE = "dev-secrets.json"
# APP_ENV: unset means production, so a server nobody configured refuses to start rather
# than run with generated keys, SQLite and plain-HTTP cookies.
ENVIRONMENTS = ("development", "testing", "production")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})
MIB = 1024 * 1024
RECEIPT_PREFIX = re.compile(r"[A-Za-z0-9/._-]{0,12}")
# The payment method types the donation form can offer (Stripe's names, for
# STRIPE_PAYMENT_METHOD_TYPES), each with the currencies Stripe takes it in (None: any the
# account takes). Apple Pay and Google Pay are wallets that ride on card; link is Stripe's.
PAYMENT_METHOD_CURRENCIES: dict[str, frozenset[str] | None] = {
    "card": None,
    "link": None,
    "sepa_debit": frozenset({"eur"}),
}
# Bank debits: the donor's mandate goes with the server's confirmation, and the money
# arrives days later (the gift stays `processing` until Stripe's webhook says it cleared).
MANDATE_PAYMENT_METHODS = frozenset({"sepa_debit"})


class ConfigError(RuntimeError):
    """The configuration cannot run safely; the message names what is wrong."""


def _from_env(name: str) -> str | None:
    """Read NAME from the environment, or from the file named by NAME_FILE."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(f"{name}_FILE cannot be read ({error.strerror})") from error
    return None


def _int_setting(name: str, default: int, minimum: int) -> int:
    """A whole-number setting from the environment; a bad value is refused by name."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number (got {raw!r})") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum} (got {value})")
    return value


def _float_setting(name: str, default: float, minimum: float) -> float:
    """A number setting from the environment; a bad value is refused by name."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number (got {raw!r})") from None
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{name} must be a number of at least {minimum} (got {raw!r})")
    return value


def _bool_setting(name: str) -> bool:
    """An on/off setting: 1/true/yes/on or 0/false/no/off; anything else is refused by name."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be 1 or 0 (true or false), got {raw!r}")


def payment_method_types(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """STRIPE_PAYMENT_METHOD_TYPES as a tuple: a comma list of known types, card among them
    (the one method every currency has, and the one wallets ride on)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(str(item).strip().lower() for item in items if str(item).strip()))
    known = ", ".join(PAYMENT_METHOD_CURRENCIES)
    unknown = [name for name in names if name not in PAYMENT_METHOD_CURRENCIES]
    if unknown:
        raise ConfigError(
            f"STRIPE_PAYMENT_METHOD_TYPES names an unknown payment method type "
            f"({', '.join(repr(name) for name in unknown)}); known: {known} "
            "(Apple Pay and Google Pay come with card)"
        )
    if "card" not in names:
        raise ConfigError(
            f"STRIPE_PAYMENT_METHOD_TYPES must include card (got {','.join(names) or 'nothing'!r})"
        )
    return names


def backup_age_recipients(value: str | None) -> tuple[str, ...]:
    """BACKUP_AGE_RECIPIENT as age public keys (age1..., a comma list: usually one); () when
    unset. An identity (the private key) is refused: it must never be on the server. A value
    is never echoed (a mangled private key must not reach a log)."""
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    for number, item in enumerate(items, start=1):
        which = "it" if len(items) == 1 else f"item {number}"
        if item.upper().startswith("AGE-SECRET-KEY-"):
            raise ConfigError(
                f"BACKUP_AGE_RECIPIENT: {which} is an age identity (a private key): give only "
                "its public key (age1..., `age-keygen -y`) and keep the identity off the server"
            )
        try:
            pyrage.x25519.Recipient.from_str(item)
        except pyrage.RecipientError:
            raise ConfigError(
                f"BACKUP_AGE_RECIPIENT must be an age public key (age1..., as age-keygen prints "
                f"it), or several separated by commas; {which} is not one"
            ) from None
    return tuple(items)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def metrics_allow(value: str | list[str] | tuple[str, ...] | None) -> tuple[Network, ...]:
    """METRICS_ALLOW as networks: a comma list of IP addresses and CIDR networks (an address
    is its own /32 or /128); () when unset, and then /metrics answers nobody."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    networks: list[Network] = []
    for item in (str(item).strip() for item in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item))
        except ValueError:
            hint = ""
            if "/" in item:
                try:
                    hint = f" (did you mean {ipaddress.ip_network(item, strict=False)}?)"
                except ValueError:
                    hint = ""
            raise ConfigError(
                f"METRICS_ALLOW: {item!r} is not an IP address or a network such as "
                f"10.0.0.0/8{hint}; give a comma list of them"
            ) from None
    return tuple(networks)


def _generate_secret(name: str) -> str:
    if name in ("CASE_MASTER_KEY", "BLIND_INDEX_KEY"):
        return base64.b64encode(secrets.token_bytes(32)).decode()
    if name == "STRIPE_WEBHOOK_SECRET":
        return "whsec_" + secrets.token_hex(24)
    return secrets.token_urlsafe(48)


def _development_secrets(instance_path: Path) -> dict[str, str]:
    """Load the generated development secrets, creating any that are missing."""
    path = instance_path / DEV_SECRETS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    missing = [name for name in GENERATED_SECRETS if name not in stored]
    if missing:
        stored.update({name: _generate_secret(name) for name in missing})
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(stored, handle, indent=2)
    return stored


def decode_key(name: str, value: str) -> bytes:
    """Decode a base64 32-byte key, naming the setting when it is not one."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ConfigError(f"{name} must be 32 bytes encoded in base64") from error
    if len(raw) != 32:
        raise ConfigError(f"{name} must be 32 bytes encoded in base64 (got {len(raw)} bytes)")
    return raw


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _check_smtp(settings: dict[str, Any]) -> None:
    """SMTP_SECURITY is starttls, ssl, or none for a relay on this machine only (email crosses
    the network in the clear otherwise)."""
    security = settings["SMTP_SECURITY"]
    if security not in ("starttls", "ssl", "none"):
        raise ConfigError(f"SMTP_SECURITY must be starttls, ssl or none (got {security!r})")
    if security == "none" and settings.get("SMTP_HOST") not in (None, *LOOPBACK_HOSTS):
        raise ConfigError(
            "SMTP_SECURITY=none is only for a mail relay on this machine "
            "(SMTP_HOST 127.0.0.1, ::1 or localhost)"
        )


def _public_url_problem(value: str, *, is_production: bool) -> str | None:
    """What is wrong with PUBLIC_URL, if anything: it must be an origin (scheme and host, no
    path), https in production. The value is not echoed: it could hold credentials."""
    schemes = ("https",) if is_production else ("https", "http")
    wanted = " or ".join(f"{scheme}://" for scheme in schemes)
    try:
        parts = urlsplit(value)
        host, _port = parts.hostname, parts.port  # a port that is not a number raises
    except ValueError:
        return f"PUBLIC_URL is not a valid URL (it must be an {wanted} address)"
    if parts.scheme not in schemes or not host:
        return f"PUBLIC_URL must be an {wanted} URL with a host, like https://donate.example.org"
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        return "PUBLIC_URL must be the site's origin only: no path, query or credentials"
    return None


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _default_jobs_redis(settings: dict[str, Any]) -> None:
    """JOBS_REDIS_URL unset: the rate limiter's Redis when it uses one; else None, and jobs
    run in the process after each commit (development and tests)."""
    if settings.get("JOBS_REDIS_URL"):
        return
    limiter = str(settings.get("RATELIMIT_STORAGE_URI") or "")
    settings["JOBS_REDIS_URL"] = limiter if limiter.startswith(REDIS_SCHEMES[:2]) else None


def _production_problems(settings: dict[str, Any]) -> list[str]:
    """What production refuses that development tolerates (or generates)."""
    problems: list[str] = []
    missing = [name for name in REQUIRED_SECRETS if not settings.get(name)]
    if str(settings["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        missing.append("DATABASE_URL (a PostgreSQL URL; SQLite is for development only)")
    if not settings.get("PUBLIC_URL"):
        missing.append("PUBLIC_URL (the site's https:// address, used for every link)")
    if missing:
        problems.append("missing: " + ", ".join(missing))
    if str(settings.get("RATELIMIT_STORAGE_URI") or "memory://").startswith("memory://"):
        problems.append(
            "RATELIMIT_STORAGE_URI is memory:// (each worker would count on its own; "
            "use redis://...)"
        )
    if not settings.get("JOBS_REDIS_URL"):
        problems.append(
            "no Redis for the job queue: set JOBS_REDIS_URL, or RATELIMIT_STORAGE_URI to "
            "redis://... (mail to donors would otherwise be sent inside requests)"
        )
    if not settings.get("PKCS11_MODULE") and not settings.get("ALLOW_SOFTWARE_KEYS"):
        problems.append(
            "no PKCS#11 token for the key-encryption keys: set PKCS11_MODULE (with "
            "PKCS11_PIN or PKCS11_PIN_FILE), or ALLOW_SOFTWARE_KEYS=1 to keep the file key "
            "on purpose"
        )
    return problems


def _check_settings(settings: dict[str, Any], *, is_production: bool) -> list[str]:
    """Every problem that stops the app starting: each named, so one run shows them all."""
    problems = _production_problems(settings) if is_production else []
    if settings.get("PUBLIC_URL"):
        problem = _public_url_problem(str(settings["PUBLIC_URL"]), is_production=is_production)
        if problem:
            problems.append(problem)
    if settings.get("PKCS11_MODULE") and not settings.get("PKCS11_PIN"):
        problems.append("PKCS11_MODULE is set but PKCS11_PIN (or PKCS11_PIN_FILE) is not")
    if settings.get("TRUST_PROXY_HOST") and not settings.get("TRUSTED_PROXIES"):
        problems.append("TRUST_PROXY_HOST is set but TRUSTED_PROXIES (the proxies in front) is 0")
    jobs_url = settings.get("JOBS_REDIS_URL")
    if jobs_url and not str(jobs_url).startswith(REDIS_SCHEMES):
        # Not echoed: the URL can hold Redis's password.
        problems.append("JOBS_REDIS_URL must be a redis://, rediss:// or unix:// URL")
    try:
        backup_age_recipients(settings.get("BACKUP_AGE_RECIPIENT"))
    except ConfigError as error:
        problems.append(str(error))
    try:
        metrics_allow(settings.get("METRICS_ALLOW"))
    except ConfigError as error:
        problems.append(str(error))
    if not RECEIPT_PREFIX.fullmatch(str(settings.get("RECEIPT_PREFIX", ""))):
        problems.append(
            "RECEIPT_PREFIX must be at most 12 letters, digits or - / . _ (e.g. SP- or 2026/), "
            "as it starts every receipt number and its email's subject"
        )
    for name in ("BACKUP_RETENTION_DAYS", "KEY_GENERATION_DAYS", "CASE_DOCUMENT_MAX_MB"):
        if not isinstance(settings.get(name), int) or settings[name] < 1:
            problems.append(f"{name} must be a whole number of at least 1")
    return problems


def load_config(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the settings: overrides win over the environment, which wins over defaults."""
    overrides = overrides or {}
    app_env = overrides.get("APP_ENV") or os.environ.get("APP_ENV") or "production"
    if app_env not in ENVIRONMENTS:
        raise ConfigError(
            f"APP_ENV must be one of {', '.join(ENVIRONMENTS)} (got {app_env!r}); "
            "unset means production"
        )
    is_production = app_env == "production"
    settings: dict[str, Any] = {
        "APP_ENV": app_env,
        "ORGANISATION_NAME": os.environ.get("ORGANISATION_NAME", "Safe Passage Fund"),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or f"sqlite:///{instance_path / 'app.db'}",
        # Connections the server closed are dropped at checkout without a query (app.py).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 3600},
        # Each worker's pool on a database server: one connection per gunicorn thread (16,
        # gunicorn.conf.py) with a few over for bursts.
        "DATABASE_POOL_SIZE": _int_setting("DATABASE_POOL_SIZE", 16, 1),
        "STRIPE_SECRET_KEY": _from_env("STRIPE_SECRET_KEY"),
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY"),
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE"),
        "STRIPE_JS_URL": os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
        # What the Payment Element offers (and each PaymentIntent allows): a comma list.
        "STRIPE_PAYMENT_METHOD_TYPES": os.environ.get("STRIPE_PAYMENT_METHOD_TYPES") or "card",
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or "memory://",
        # The job queue (security/jobs.py); unset: the rate limiter's Redis, when it has one.
        "JOBS_REDIS_URL": os.environ.get("JOBS_REDIS_URL") or None,
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "20 per minute"),
        "WTF_CSRF_TIME_LIMIT": None,
        # Raised below to fit a case document (CASE_DOCUMENT_MAX_MB) and its form.
        "MAX_CONTENT_LENGTH": MIB * 8,
        "SESSION_IDLE_MINUTES": 15,
        "SESSION_ABSOLUTE_HOURS": 8,
        "DUPLICATE_HIT_LIMIT": _int_setting("DUPLICATE_HIT_LIMIT", 3, 1),
        "DUPLICATE_HIT_WINDOW_HOURS": _int_setting("DUPLICATE_HIT_WINDOW_HOURS", 24, 1),
        # Admins' look-ups of a person in the duplicate index, per admin.
        "CASE_LOOKUP_RATE_LIMIT": os.environ.get("CASE_LOOKUP_RATE_LIMIT", "10 per hour"),
        "REAUTH_MINUTES": 5,
        "INVITATION_HOURS": 48,
        # A reset hands over an existing account: its link lives a shorter time.
        "RESET_LINK_HOURS": _int_setting("RESET_LINK_HOURS", 24, 1),
        "THROTTLE_MAX_SECONDS": _int_setting("THROTTLE_MAX_SECONDS", 900, 1),
        "FAILED_SIGN_IN_ALARM": _int_setting("FAILED_SIGN_IN_ALARM", 20, 1),
        "DONATE_RATE_LIMIT_PER_IP": os.environ.get("DONATE_RATE_LIMIT_PER_IP", "10 per minute"),
        # The decline-rate breaker (fundraising/card_testing.py): this many declines on one
        # drive in the window, making up at least this share of its attempts, and addresses
        # with a decline there are refused for the hold.
        "CARD_TESTING_DECLINES": os.environ.get("CARD_TESTING_DECLINES", "40 per 5 minutes"),
        "CARD_TESTING_DECLINE_SHARE": _float_setting("CARD_TESTING_DECLINE_SHARE", 0.5, 0),
        "CARD_TESTING_HOLD_MINUTES": _int_setting("CARD_TESTING_HOLD_MINUTES", 30, 1),
        # Seconds each worker keeps the public drive page and progress.json (0: off).
        "PUBLIC_CACHE_SECONDS": _float_setting("PUBLIC_CACHE_SECONDS", 2, 0),
        # The link-preview image (/drives/<slug>/share.png) is drawn at most once per period
        # per worker, and proxies and link scrapers may keep it as long (0: drawn every time).
        "SHARE_CARD_SECONDS": _int_setting("SHARE_CARD_SECONDS", 300, 0),
        # A TrueType font for it (one covering the drives' scripts); unset: DejaVu Sans when
        # installed, else Pillow's built-in font (Latin only).
        "SHARE_CARD_FONT": os.environ.get("SHARE_CARD_FONT") or None,
        "DONATION_MAX_MAJOR": _int_setting("DONATION_MAX_MAJOR", 10000, 1),
        "STRIPE_FEE_BASIS_POINTS": _int_setting("STRIPE_FEE_BASIS_POINTS", 290, 0),
        "STRIPE_FEE_FIXED_MINOR": _int_setting("STRIPE_FEE_FIXED_MINOR", 30, 0),
        "STRIPE_TIMEOUT_SECONDS": _float_setting("STRIPE_TIMEOUT_SECONDS", 20, 1),
        # What a donor's bank statement and receipt say: neutral, so they out nobody.
        "STATEMENT_DESCRIPTOR_SUFFIX": os.environ.get("STATEMENT_DESCRIPTOR_SUFFIX", "DONATION"),
        "RECEIPT_DESCRIPTION": os.environ.get("RECEIPT_DESCRIPTION", "Donation"),
        # The receipts the app emails (fundraising/receipts.py): numbered PREFIX + 000001, with
        # the organisation's legal details (each optional: the legal name defaults to
        # ORGANISATION_NAME, a detail not given is left out).
        "RECEIPT_PREFIX": os.environ.get("RECEIPT_PREFIX", "SP-"),
        "RECEIPT_LEGAL_NAME": (os.environ.get("RECEIPT_LEGAL_NAME") or "").strip() or None,
        "RECEIPT_REGISTRATION_NUMBER": (os.environ.get("RECEIPT_REGISTRATION_NUMBER") or "").strip()
        or None,
        "RECEIPT_ADDRESS": (os.environ.get("RECEIPT_ADDRESS") or "").strip() or None,
        "CASE_RETENTION_DAYS": _int_setting("CASE_RETENTION_DAYS", 180, 0),
        # The largest document (passport scan, ticket...) a caseworker can upload to a case.
        "CASE_DOCUMENT_MAX_MB": _int_setting("CASE_DOCUMENT_MAX_MB", 10, 1),
        "TRUSTED_PROXIES": _int_setting("TRUSTED_PROXIES", 0, 0),
        # X-Forwarded-Host is believed only when the operator says the proxy sets it: otherwise
        # whoever sends the header would choose the host the app's links point to.
        "TRUST_PROXY_HOST": _bool_setting("TRUST_PROXY_HOST"),
        "SMTP_HOST": os.environ.get("SMTP_HOST"),
        "SMTP_PORT": _int_setting("SMTP_PORT", 587, 1),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME"),
        "SMTP_PASSWORD": _from_env("SMTP_PASSWORD"),
        "SMTP_FROM": os.environ.get("SMTP_FROM"),
        "SMTP_SECURITY": os.environ.get("SMTP_SECURITY", "starttls"),
        "PUBLIC_URL": os.environ.get("PUBLIC_URL") or None,
        # Key-encryption keys for the case data keys live in this PKCS#11 token (read by
        # security/keystore.py); without one, the file key CASE_MASTER_KEY wraps them.
        "PKCS11_MODULE": os.environ.get("PKCS11_MODULE") or None,
        "PKCS11_TOKEN_LABEL": os.environ.get("PKCS11_TOKEN_LABEL") or "safe-passage",
        "PKCS11_PIN": _from_env("PKCS11_PIN"),
        "ALLOW_SOFTWARE_KEYS": _bool_setting("ALLOW_SOFTWARE_KEYS"),
        # A new key generation every KEY_GENERATION_DAYS; a superseded one is destroyed once
        # BACKUP_RETENTION_DAYS have passed (backups older than that are deleted anyway).
        "BACKUP_RETENTION_DAYS": _int_setting("BACKUP_RETENTION_DAYS", 35, 1),
        "KEY_GENERATION_DAYS": _int_setting("KEY_GENERATION_DAYS", 30, 1),
        # The organisation's age public key(s) backups are encrypted to (security/backup.py);
        # the identity that opens them is kept offline, never on the server.
        "BACKUP_AGE_RECIPIENT": os.environ.get("BACKUP_AGE_RECIPIENT") or None,
        # Who may read /metrics (security/metrics.py): a comma list of addresses and networks,
        # matched against the client address (after ProxyFix); empty: nobody.
        "METRICS_ALLOW": os.environ.get("METRICS_ALLOW") or "",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": app_env not in {"development", "testing"},
        "STAFF_COOKIE_NAME": "staff_session",
    }
    if settings["SESSION_COOKIE_SECURE"]:
        # The __Host- prefix binds the cookie to this exact origin over HTTPS.
        settings["SESSION_COOKIE_NAME"] = "__Host-session"
        settings["STAFF_COOKIE_NAME"] = "__Host-staff_session"
    for name in GENERATED_SECRETS:
        settings[name] = _from_env(name)
    settings.update(overrides)
    if "MAX_CONTENT_LENGTH" not in overrides and isinstance(settings["CASE_DOCUMENT_MAX_MB"], int):
        # A megabyte over the document limit for the rest of the form, so a file just over
        # it reaches the upload page and is refused there with the limit named.
        document_room = (settings["CASE_DOCUMENT_MAX_MB"] + 1) * MIB
        settings["MAX_CONTENT_LENGTH"] = max(settings["MAX_CONTENT_LENGTH"], document_room)
    _default_jobs_redis(settings)

    problems = _check_settings(settings, is_production=is_production)
    if problems:
        where = " in production" if is_production else ""
        raise ConfigError(f"Refusing to start{where}; " + "; ".join(problems))
    if settings["PUBLIC_URL"]:
        settings["PUBLIC_URL"] = str(settings["PUBLIC_URL"]).rstrip("/")
    if not is_production:
        absent = [name for name in GENERATED_SECRETS if not settings.get(name)]
        if absent:
            generated = _development_secrets(instance_path)
            settings.update({name: generated[name] for name in absent})
    for name in ("CASE_MASTER_KEY", "BLIND_INDEX_KEY"):
        decode_key(name, settings[name])
    _check_smtp(settings)
    settings["STRIPE_PAYMENT_METHOD_TYPES"] = payment_method_types(
        settings["STRIPE_PAYMENT_METHOD_TYPES"]
    )
    settings["METRICS_ALLOW"] = metrics_allow(settings["METRICS_ALLOW"])
    if not str(settings["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_size": settings["DATABASE_POOL_SIZE"],
            "max_overflow": 4,
            **settings["SQLALCHEMY_ENGINE_OPTIONS"],
        }
    return settings
