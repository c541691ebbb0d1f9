"""gunicorn configuration: `gunicorn -c contactpoint/gunicorn.conf.py` (see README "Deployment")."""

import logging
import multiprocessing
import os

from contactpoint.env import env_int
from contactpoint.secret_paths import path_without_secrets

wsgi_app = "contactpoint.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Read as every setting is (contactpoint/env.py): a mistyped value stops start-up with its
# name, and none may be 0, which gunicorn takes as no worker at all, or (the timeout) none.
workers = env_int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1, minimum=1)
threads = env_int("GUNICORN_THREADS", 1, minimum=1)
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = 20
# Workers are recycled now and then so that a slow leak can never take the service down.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
# Only the request line's path is logged, never a query string: names must never reach a log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
# ...and a set-up link's path without its token, which is the new account's password.
logger_class = "contactpoint.gunicorn_logging.AccessLogger"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


class _NoRequestText(logging.Filter):
    """gunicorn logs a malformed request's text ("Invalid HTTP Version: 'Archer HTTP/1.1'") and
    a failed request's whole URI, query string included: either may hold a name someone typed,
    and no name may reach a log line. The address and the kind of problem are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Invalid request from ip="):
            record.msg, record.args = message.split(":", 1)[0] + " (its text is not logged)", ()
        elif message.startswith("Error handling request ") and record.args:
            uri = str(record.args[0] if isinstance(record.args, tuple) else record.args)
            record.args = (path_without_secrets(uri.split("?", 1)[0]),)
        return True


def post_worker_init(worker: object) -> None:
    logging.getLogger("gunicorn.error").addFilter(_NoRequestText())
