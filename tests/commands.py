"""Running manage.py as a person would, to see exactly what they see on the terminal."""

import subprocess
import sys

from django.conf import settings


def run_manage(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
