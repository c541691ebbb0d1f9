"""Who may do what: organisations, users, roles and two-factor sign-in."""
