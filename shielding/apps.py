from django.apps import AppConfig


class ShieldingConfig(AppConfig):
    name = "shielding"
    verbose_name = "Shielding"
