"""Prints the CPU seconds used so far by the whole machine, by gunicorn and by PostgreSQL, as one
JSON line: `python scripts/cpu_sample.py GUNICORN_PID POSTMASTER_PID`.

The load test samples before and after each run, so that its report can say what a request
costs each tier. A process's own time and its reaped children's time (workers recycled by
gunicorn, backends closed by PostgreSQL) are both counted, and so are the live children's.
"""

import json
import os
import sys
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # it ended between the listing and the reading
    # The command name may hold spaces; the fields after it are space-separated.
    return stat.rsplit(")", 1)[1].split()


def tree_seconds(root: int) -> float:
    """CPU seconds of ``root`` with its reaped children, and of its live children."""
    ticks = 0
    fields = _fields(root)
    if fields:
        # After the name: state is field 0, utime 11, stime 12, cutime 13, cstime 14.
        ticks += sum(int(value) for value in fields[11:15])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _fields(int(entry.name))
            if child and int(child[1]) == root:  # the parent's pid is field 1
                ticks += int(child[11]) + int(child[12])
    return ticks / TICKS


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle (all cores)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return (sum(values[:8]) - idle) / TICKS


def main(gunicorn: str, postmaster: str) -> int:
    sample = {
        "busy": busy_seconds(),
        "app": tree_seconds(int(gunicorn)),
        "db": tree_seconds(int(postmaster)),
    }
    print(json.dumps(sample))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
