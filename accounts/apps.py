from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in

        from accounts.auditlog import register

        register()
        # A sign-in is both factors: the password alone (login()) must not count as one, or it
        # would keep a dormant account alive. accounts.views sets last_login at the second.
        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
