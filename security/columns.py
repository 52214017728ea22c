"""Column types every package's models share."""

from __future__ import annotations

import enum

from sqlalchemy import Enum


def value_enum(kind: type[enum.Enum], name: str) -> Enum:
    """A Python enum stored by its values ("succeeded"), not its member names ("SUCCEEDED"),
    as a named type (PostgreSQL) or a checked string (SQLite)."""
    return Enum(kind, name=name, values_callable=lambda members: [m.value for m in members])
