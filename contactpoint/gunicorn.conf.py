"""gunicorn configuration: `gunicorn -c contactpoint/gunicorn.conf.py` (see README "Deployment")."""

import multiprocessing
import os

wsgi_app = "contactpoint.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# Workers are recycled now and then so that a slow leak can never take the service down.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
# Only the request line's path is logged, never a query string: names must never reach a log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
