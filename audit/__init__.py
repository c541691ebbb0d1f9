"""Audit: an append-only record of every access, and the screens auditors read it on."""
