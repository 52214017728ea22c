"""Payouts and balance transactions, reconciliation, the restricted-fund ledger, disbursements."""
