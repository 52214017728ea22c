"""Staff accounts: roles, login with TOTP, invitations, vetting, sessions and role guards."""
