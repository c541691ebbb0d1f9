from django.apps import AppConfig


class ShieldingConfig(AppConfig):
    name = "shielding"
    verbose_name = "Shielding"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from shielding.models import ContactRequest, Shield, ShieldOverride

        auditlog.register(Shield)
        auditlog.register(ShieldOverride, exclude_fields=["visit_token_hash"])
        auditlog.register(ContactRequest)
