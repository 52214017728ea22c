"""Staff users, their server-side sessions, and invitation links."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model
from security.clock import UTCDateTime, now
from security.columns import value_enum


class Role(enum.StrEnum):
    """What a staff member does; each role sees a different part of the app."""

    ADMIN = "admin"
    CASEWORKER = "caseworker"
    FINANCE = "finance"

    @property
    def label(self) -> LazyString:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: _l("Admin"),
    Role.CASEWORKER: _l("Caseworker"),
    Role.FINANCE: _l("Finance"),
}


class SessionStage(enum.StrEnum):
    """How far a browser has got: password given, enrolling a TOTP app, or signed in."""

    PENDING = "pending"
    ENROLLING = "enrolling"
    ACTIVE = "active"


class LinkPurpose(enum.StrEnum):
    """An invitation creates an account; a reset re-enrols an existing one."""

    INVITE = "invite"
    RESET = "reset"


class User(UserMixin, Model):
    """A vetted staff member. Created by an admin's invitation or the CLI, never by sign-up."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(value_enum(Role, "staff_role"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret_sealed: Mapped[str | None] = mapped_column(String(255))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_totp_step: Mapped[int] = mapped_column(Integer, default=0)
    is_vetted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set only by a duress lock (the owner's own), lifted by an admin: failed sign-ins throttle
    # the address they come from instead (accounts/throttle.py), so nobody can lock anyone out.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    vetted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A role change waits here until a second admin approves it (two people for every grant).
    pending_role: Mapped[Role | None] = mapped_column(value_enum(Role, "staff_role"))
    role_requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    role_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sessions: Mapped[list[StaffSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *roles: Role | str) -> bool:
        """True when the user holds one of the roles."""
        return self.role in {Role(role) for role in roles}

    def is_locked(self, at: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > at


class StaffSession(Model):
    """A browser's sign-in. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[SessionStage] = mapped_column(value_enum(SessionStage, "session_stage"))
    is_password_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    reauthenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship(back_populates="sessions")


class Invitation(Model):
    """A one-time, expiring link to set a password and enrol TOTP."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[LinkPurpose] = mapped_column(value_enum(LinkPurpose, "link_purpose"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(value_enum(Role, "invited_role"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Model):
    """Recent failed attempts for one key (an account and address, or an address), and when
    the next attempt may come. The key is an HMAC: no email or address is stored."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    next_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
