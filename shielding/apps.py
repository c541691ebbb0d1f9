from django.apps import AppConfig


class ShieldingConfig(AppConfig):
    name = "shielding"
    verbose_name = "Shielding"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from shielding.models import ContactRequest, Shield, ShieldOverride

        # Whom a shield protects is not told to another LA through its change log.
        auditlog.register(Shield, exclude_fields=["protects"])
        auditlog.register(ShieldOverride, exclude_fields=["visit_token_hash"])
        auditlog.register(ContactRequest)
