"""Shared security parts: clock, headers, secrets sealing and error pages."""
