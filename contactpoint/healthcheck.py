"""`python -m contactpoint.healthcheck [URL]`: exit 0 if the service's /health/ answers 200.

For a container's or a supervisor's probe on the same machine: it asks as the TLS proxy would
forward a request (the first of ALLOWED_HOSTS as the host, HTTPS as the scheme), so that the
production settings neither refuse the host nor redirect to HTTPS.
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/health/"


def main(argv: list[str]) -> int:
    url = argv[0] if argv else DEFAULT_URL
    hosts = [host.strip() for host in os.environ.get("ALLOWED_HOSTS", "").split(",")]
    headers = {"X-Forwarded-Proto": "https"}
    if hosts and hosts[0] and hosts[0] != "*":
        headers["Host"] = hosts[0].lstrip(".")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=3) as r:  # noqa: S310
            healthy = r.status == 200
    except (urllib.error.URLError, OSError):
        healthy = False
    print("healthy" if healthy else f"unhealthy: {url}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
