from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from directory import models

        # Every change to the directory is in the change log, field by field; what an entry
        # shows of a shielded child is decided by the shielding policy (shielding/policy.py).
        auditlog.register(models.Child, exclude_fields=["updated_at"])
        for model in (
            models.ChildName,
            models.Address,
            models.ParentCarer,
            models.CareRelationship,
            models.Service,
            models.Involvement,
            models.ChildIdentifier,
            models.Merge,
            models.MatchReview,
        ):
            auditlog.register(model)
