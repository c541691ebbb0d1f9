"""`make run` serves ContactPoint with gunicorn and its config file: this proves the set-up."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.django_db
def test_gunicorn_serves_the_sign_in_page_and_its_static_files(tmp_path: Path):
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}:@/{db['NAME']}?host={db['HOST']}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [str(gunicorn), "-c", "contactpoint/gunicorn.conf.py"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        html = ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/") as reply:
                    html = reply.read().decode()
                    assert reply.headers["Content-Security-Policy"]
                break
            except OSError:
                time.sleep(0.1)
        assert "Sign in to ContactPoint" in html
        css = html.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{css}") as reply:
            assert reply.status == 200
            assert "max-age=315360000" in reply.headers["Cache-Control"]
        # Malformed requests that gunicorn answers itself, each with a name in its text.
        for line in (b"GET /search/?surname=Isabelle Archer HTTP/1.1", b"GET /x?q=Quennell HTTP/9"):
            with socket.create_connection(("127.0.0.1", port)) as raw:
                raw.sendall(line + b"\r\nHost: 127.0.0.1\r\n\r\n")
                assert raw.recv(1024).startswith(b"HTTP/1.1 400")
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    access_log = (tmp_path / "gunicorn.log").read_text()
    assert '"GET /accounts/login/" 200' in access_log
    assert "Invalid request from ip=127.0.0.1 (its text is not logged)" in access_log
    assert "Archer" not in access_log and "Quennell" not in access_log, "no name in a log line"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GUNICORN_WORKERS", "0", "GUNICORN_WORKERS must be at least 1, not 0"),
        ("GUNICORN_WORKERS", "four", "GUNICORN_WORKERS must be a whole number, not 'four'"),
        ("GUNICORN_TIMEOUT", "0", "GUNICORN_TIMEOUT must be at least 1, not 0"),
    ],
)
def test_gunicorn_stops_at_start_up_on_a_value_it_cannot_use(variable, value, message):
    """0 workers would listen and never answer, and a timeout of 0 is none: as every other
    setting, the value is refused with its name (README "Configuration")."""
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{free_port()}", variable: value}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    try:
        result = subprocess.run(
            [str(gunicorn), "-c", "contactpoint/gunicorn.conf.py"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"gunicorn ran with {variable}={value}")
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
