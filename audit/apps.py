from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django.core import checks

        from contactpoint.database import server_log_check

        # Like the access log, the database server's own log may hold no child's details.
        checks.register(server_log_check, deploy=True)

        from audit.recorder import sign_out_note

        def note_sign_out(sender: object, request: object, user: object, **kwargs: object) -> None:
            # Every way of ending a session (sign-out, timeouts, suspension) passes through here.
            if request is not None and user is not None:
                sign_out_note(request, user)  # type: ignore[arg-type]

        user_logged_out.connect(note_sign_out, weak=False, dispatch_uid="audit_sign_out")
