"""gunicorn's logger for ContactPoint (``logger_class`` in contactpoint/gunicorn.conf.py)."""

from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from contactpoint.secret_paths import text_without_secrets


class AccessLogger(Logger):
    """gunicorn's own logger, whose access log lines never show a set-up link's token, whatever
    ``access_log_format`` asks for (contactpoint.secret_paths)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        # Every atom, not only the path's: the referrer ("%(f)s", "{referer}i") of the set-up
        # page's style sheet is the page's whole URL, token and all.
        return {
            name: text_without_secrets(value) if isinstance(value, str) else value
            for name, value in atoms.items()
        }
