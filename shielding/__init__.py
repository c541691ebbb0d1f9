"""Shielding: the one policy that masks where an at-risk child can be found."""
