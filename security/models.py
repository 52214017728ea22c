"""Security's tables: the generations of key-encryption keys held in the PKCS#11 token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model
from security.clock import UTCDateTime


class KeyGeneration(Model):
    """One key-encryption key in the token. Data keys wrapped under it name it by id; once it
    is destroyed in the token, every copy of those wrapped keys (backups, WAL archives,
    replicas, dumps) is noise."""

    __tablename__ = "key_generations"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # "t000001"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
