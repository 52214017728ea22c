"""The append-only, hash-chained audit log."""

from audit.services import record

__all__ = ["record"]
