"""Settings from the environment, with safe generated defaults for development."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from pathlib import Path
from typing import Any

# Secrets the app refuses to start without in production. Development generates them.
REQUIRED_SECRETS = ("SECRET_KEY", "CASE_MASTER_KEY", "BLIND_INDEX_KEY")
GENERATED_SECRETS = (*REQUIRED_SECRETS, "STRIPE_WEBHOOK_SECRET")
DEV_SECRETS_FILE = "dev-secrets.json"


class ConfigError(RuntimeError):
    """The configuration cannot run safely; the message names what is wrong."""


def _from_env(name: str) -> str | None:
    """Read NAME from the environment, or from the file named by NAME_FILE."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return None


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


def load_config(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the settings: overrides win over the environment, which wins over defaults."""
    overrides = overrides or {}
    app_env = overrides.get("APP_ENV") or os.environ.get("APP_ENV", "development")
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
        "DATABASE_POOL_SIZE": int(os.environ.get("DATABASE_POOL_SIZE", "16")),
        "STRIPE_SECRET_KEY": _from_env("STRIPE_SECRET_KEY"),
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY"),
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE"),
        "STRIPE_JS_URL": os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "20 per minute"),
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "SESSION_IDLE_MINUTES": 15,
        "SESSION_ABSOLUTE_HOURS": 8,
        "DUPLICATE_HIT_LIMIT": int(os.environ.get("DUPLICATE_HIT_LIMIT", "3")),
        "DUPLICATE_HIT_WINDOW_HOURS": int(os.environ.get("DUPLICATE_HIT_WINDOW_HOURS", "24")),
        "REAUTH_MINUTES": 5,
        "INVITATION_HOURS": 48,
        # A reset hands over an existing account: its link lives a shorter time.
        "RESET_LINK_HOURS": int(os.environ.get("RESET_LINK_HOURS", "24")),
        "THROTTLE_MAX_SECONDS": int(os.environ.get("THROTTLE_MAX_SECONDS", "900")),
        "FAILED_SIGN_IN_ALARM": int(os.environ.get("FAILED_SIGN_IN_ALARM", "20")),
        "DONATE_RATE_LIMIT_PER_IP": os.environ.get("DONATE_RATE_LIMIT_PER_IP", "10 per minute"),
        # The decline-rate breaker (fundraising/card_testing.py): this many declines on one
        # drive in the window, making up at least this share of its attempts, and addresses
        # with a decline there are refused for the hold.
        "CARD_TESTING_DECLINES": os.environ.get("CARD_TESTING_DECLINES", "40 per 5 minutes"),
        "CARD_TESTING_DECLINE_SHARE": float(os.environ.get("CARD_TESTING_DECLINE_SHARE", "0.5")),
        "CARD_TESTING_HOLD_MINUTES": int(os.environ.get("CARD_TESTING_HOLD_MINUTES", "30")),
        # Seconds each worker keeps the public drive page and progress.json (0: off).
        "PUBLIC_CACHE_SECONDS": float(os.environ.get("PUBLIC_CACHE_SECONDS", "2")),
        "DONATION_MAX_MAJOR": int(os.environ.get("DONATION_MAX_MAJOR", "10000")),
        "STRIPE_FEE_BASIS_POINTS": int(os.environ.get("STRIPE_FEE_BASIS_POINTS", "290")),
        "STRIPE_FEE_FIXED_MINOR": int(os.environ.get("STRIPE_FEE_FIXED_MINOR", "30")),
        "STRIPE_TIMEOUT_SECONDS": float(os.environ.get("STRIPE_TIMEOUT_SECONDS", "20")),
        # What a donor's bank statement and receipt say: neutral, so they out nobody.
        "STATEMENT_DESCRIPTOR_SUFFIX": os.environ.get("STATEMENT_DESCRIPTOR_SUFFIX", "DONATION"),
        "RECEIPT_DESCRIPTION": os.environ.get("RECEIPT_DESCRIPTION", "Donation"),
        "CASE_RETENTION_DAYS": int(os.environ.get("CASE_RETENTION_DAYS", "180")),
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        "SMTP_HOST": os.environ.get("SMTP_HOST"),
        "SMTP_PORT": int(os.environ.get("SMTP_PORT", "587")),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME"),
        "SMTP_PASSWORD": _from_env("SMTP_PASSWORD"),
        "SMTP_FROM": os.environ.get("SMTP_FROM"),
        "SMTP_SECURITY": os.environ.get("SMTP_SECURITY", "starttls"),
        "PUBLIC_URL": os.environ.get("PUBLIC_URL"),
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

    if is_production:
        missing = [name for name in REQUIRED_SECRETS if not settings.get(name)]
        if str(settings["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
            missing.append("DATABASE_URL (a PostgreSQL URL; SQLite is for development only)")
        if missing:
            raise ConfigError("Refusing to start in production; missing: " + ", ".join(missing))
    else:
        absent = [name for name in GENERATED_SECRETS if not settings.get(name)]
        if absent:
            generated = _development_secrets(instance_path)
            settings.update({name: generated[name] for name in absent})
    for name in ("CASE_MASTER_KEY", "BLIND_INDEX_KEY"):
        decode_key(name, settings[name])
    _check_smtp(settings)
    if not str(settings["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_size": settings["DATABASE_POOL_SIZE"],
            "max_overflow": 4,
            **settings["SQLALCHEMY_ENGINE_OPTIONS"],
        }
    return settings
