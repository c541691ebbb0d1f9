"""Summarises make loadtest (throughput, latency and CPU per endpoint) and make faulttest
(the outage, and the audit events of the record pages served)."""

import csv
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactpoint.settings")


def stats(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def cpu_costs(folder: Path) -> None:
    """What a request cost each tier in CPU time, from the samples taken around each run: the
    application (gunicorn), the database, and the rest (mostly Locust itself)."""
    print(f"{'run':10} {'requests':>9} {'app ms':>7} {'db ms':>7} {'rest ms':>8} "
          f"{'req per app-core-s':>19} {'req per db-core-s':>18}")  # fmt: skip
    for run in ("ceiling", "floor", "searches", "saturation", "mix"):
        samples = folder / f"{run}.cpu"
        if not samples.exists():
            continue
        before, after = (json.loads(line) for line in samples.read_text().splitlines()[:2])
        used = {tier: after[tier] - before[tier] for tier in before}
        rows = stats(folder / f"{run}_stats.csv")
        requests = next(int(row["Request Count"]) for row in rows if row["Name"] == "Aggregated")
        rest = used["busy"] - used["app"] - used["db"]
        # A tier that did (almost) no work for the run has no meaningful rate per core.
        per_app = f"{requests / used['app']:.0f}" if used["app"] > 1 else "-"
        per_db = f"{requests / used['db']:.0f}" if used["db"] > 1 else "-"
        print(
            f"{run:10} {requests:>9} {1000 * used['app'] / requests:7.2f} "
            f"{1000 * used['db'] / requests:7.2f} {1000 * rest / requests:8.2f} "
            f"{per_app:>19} {per_db:>18}"
        )


def endpoints(folder: Path, runs: tuple[str, ...]) -> dict[tuple[str, str], float]:
    """Prints each run's endpoints; returns their throughput."""
    print(f"{'run':10} {'endpoint':14} {'requests':>9} {'failures':>9} {'req/s':>8} "
          f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")  # fmt: skip
    throughput = {}
    for run in runs:
        for row in stats(folder / f"{run}_stats.csv"):
            name = row["Name"]
            print(
                f"{run:10} {name:14} {row['Request Count']:>9} {row['Failure Count']:>9} "
                f"{float(row['Requests/s']):8.1f} {row['50%']:>7} {row['95%']:>7} {row['99%']:>7}"
            )
            throughput[(run, name)] = float(row["Requests/s"])
    return throughput


def load(out: str) -> int:
    folder = Path(out)
    throughput = endpoints(folder, ("ceiling", "floor", "searches", "saturation", "mix"))
    ceiling = throughput.get(("ceiling", "minimal view"), 0.0)
    floor = throughput.get(("floor", "search form"), 0.0)
    search = throughput.get(("searches", "search"), 0.0)
    if ceiling and floor:
        print(f"Search throughput without pauses is {100 * search / ceiling:.0f}% of the "
              f"minimal view's. A signed-in page that does nothing else reaches "
              f"{100 * floor / ceiling:.0f}% of it, and search {100 * search / floor:.0f}% "
              "of that page's.")  # fmt: skip
    cpu_costs(folder)
    return 0


def fault(out: str, fault_start: str, down: str, up: str, recovered: str) -> int:
    folder = Path(out)
    endpoints(folder, ("fault",))
    print(f"PostgreSQL was down for {float(up) - float(down):.1f} s; the service answered "
          f"again {float(recovered) - float(up):.1f} s after it came back.")  # fmt: skip
    status = (folder / "outage-status.txt").read_text().strip()
    page = (folder / "outage-page.html").read_text()
    print(f"During the outage a page that reads the database answered {status}; "
          f"{'a clear service-unavailable page' if 'unavailable' in page else 'UNEXPECTED PAGE'}, "
          f"{'no traceback' if 'Traceback' not in page else 'A TRACEBACK'}.")  # fmt: skip

    import django

    django.setup()
    from audit.models import AuditEvent

    # Record pages served: the record views, and the record page each saved involvement
    # redirects to (Locust counts that page under the involvement that led to it).
    served = sum(
        int(row["Request Count"]) - int(row["Failure Count"])
        for row in stats(folder / "fault_stats.csv")
        if row["Name"] in {"record", "involvement"}
    )
    events = AuditEvent.objects.filter(
        action="view_record",
        status=200,
        occurred_at__gte=fault_start,
        username__startswith="load",
        path__regex=r"^/children/[0-9]{12}/$",
    ).count()
    verdict = "every one has its event" if events >= served else "EVENTS ARE MISSING"
    print(f"Fault test: {served} record pages returned 200; {events} access events for record "
          f"pages: {verdict}.")  # fmt: skip
    return 0 if events >= served else 1


def main(mode: str, *arguments: str) -> int:
    return load(*arguments) if mode == "load" else fault(*arguments)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
