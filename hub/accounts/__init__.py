"""Accounts, organizations, password hashing, authentication and the permission checks."""
