"""gunicorn's logger for ContactPoint (``logger_class`` in contactpoint/gunicorn.conf.py)."""

from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from contactpoint.secret_paths import path_without_secrets


class AccessLogger(Logger):
    """gunicorn's own logger, whose access log lines never show a set-up link's token, whatever
    ``access_log_format`` asks for (contactpoint.secret_paths)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("U", "r", "{path_info}e", "{raw_uri}e", "{script_name}e"):
            if isinstance(atoms.get(name), str):
                atoms[name] = _without_secrets(atoms[name])
        return atoms


def _without_secrets(text: str) -> str:
    """A path, or a request line ("GET /accounts/set-up/... HTTP/1.1"), without secrets."""
    method, space, rest = text.partition(" ")
    if space and not text.startswith("/"):
        return f"{method} {path_without_secrets(rest)}"
    return path_without_secrets(text)
