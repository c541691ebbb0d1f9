from django.apps import AppConfig


class ShieldingConfig(AppConfig):
    name = "shielding"
    verbose_name = "Shielding"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from shielding.models import Shield

        auditlog.register(Shield)
