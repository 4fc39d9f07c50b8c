"""Accounts: password hashing, access and refresh tokens, who the caller is."""
