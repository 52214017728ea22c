"""Drives, the public donation form, the Stripe gateway, webhook intake and donations."""
