"""The restricted case manager: encrypted cases, stages, notes, assignments, retention, purge."""
