#!/usr/bin/env python3
"""Benchmarks of `pipeline`, each side by side with its limit in one run (medians of several
repetitions, printed as ratios). Not part of the tests.

    python3 bench/bench.py [DATASET_DIR ...] [--reps 5] [--naive-days 40] [--quick | --engine [--engines LIST]]

Without directories it runs on datasets/sample and, when present, ../shared/datasets/olist-sample.
For each dataset, in a fresh database `pipeline_bench`:
  1. load: `pipeline run --stage load` into empty tables vs `psql \\copy` of the same files into the
     same tables (the limit);
  2. backfill: `pipeline run --stage customer_daily_stats` over the whole history vs one set-based
     statement computing the same rows into a table of the same shape (bench/limit_stats.sql, the
     limit; its rows are compared with the stage's), and vs `pipeline run --date D --stage customer_daily_stats` once per day (the naive
     way; timed on --naive-days days spread over the history and extrapolated to every day);
  3. one day: `pipeline run --date D --stage customer_daily_stats`, process start to exit;
  4. daily runs: plain `pipeline run` (what changed, nothing else) and `pipeline run --date LAST` (load of the whole export, then the last day and every
     stale day) on the unchanged export, and on an export where 0.1% of the orders changed (across
     three files, by bench/change_export.py: half of them canceled, half with an item's price
     corrected, and a tenth as many customer ids moved to another person; alternately changed and
     restored), each vs the load limit; with --quick,
     also plain `run` under `deletes = "snapshot"` of an export without 0.1% of the orders
     (deleted with their items, then back), vs the load limit;
  5. peak resident memory of the pipeline process (load and backfill);
  6. the first run: `pipeline run` on an empty database (load, then every day) vs the bulk limit:
     what pg_restore does (`\\copy` into tables without keys, then the keys, indexes and references,
     then ANALYZE) followed by the one statement of step 2;
  7. the report: `pipeline report` over the whole history (HTML), process start to exit, once the
     table's statistics are gathered (ANALYZE, as autovacuum does after a backfill).
With --engine, only the backfill of each engine: the binary built with `--features ballista`, the
files loaded once into a database of its own (`pipeline_bench_engine`), then, alternating,
`pipeline run --stage customer_daily_stats --full-refresh` with `engine = "datafusion"`, with
`engine = "ballista"` (a scheduler and two executors of the same binary on this machine, one task
slot each, their snapshot directory emptied before each repetition, since a backfill follows a load
that changed the tables; one more repetition with the snapshot kept is reported apart) and with
`engine = "postgres"` vs the one statement of step 2 (bench/limit_stats.sql), the rows each refresh
replaced vacuumed after it, untimed (autovacuum would do it during the next measurement); the rows of each
engine are compared with the statement's, and the peak resident memory of each is reported (the
pipeline process's; for ballista, also each executor's). `--engines datafusion,postgres` leaves
the cluster out (and builds with `--features datafusion`, not the longer `ballista` build).
Needs PostgreSQL (BENCH_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres) and psql.
"""
import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from change_export import change_export, link_unchanged

ROOT = Path(__file__).resolve().parent.parent
ADMIN = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_NAME = "pipeline_bench"
DB_URL = ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME
FILES = [
    ("customers", "olist_customers_dataset.csv",
     "customer_id, customer_unique_id, customer_zip_code_prefix, customer_city, customer_state"),
    ("products", "olist_products_dataset.csv",
     "product_id, product_category_name, product_name_length, product_description_length, product_photos_qty, "
     "product_weight_g, product_length_cm, product_height_cm, product_width_cm"),
    ("orders", "olist_orders_dataset.csv",
     "order_id, customer_id, order_status, order_purchase_timestamp, order_approved_at, "
     "order_delivered_carrier_date, order_delivered_customer_date, order_estimated_delivery_date"),
    ("order_items", "olist_order_items_dataset.csv",
     "order_id, order_item_id, product_id, seller_id, shipping_limit_date, price, freight_value"),
]
# --quick's targets (the speed issue): the first run at most 1.25 of the bulk limit on generated
# data (1.5 on the Olist sample), a daily run of an export with 0.1% of past orders changed at
# most 0.2 of the bulk load, peak RSS under 150 MB.
QUICK_TARGETS = {"first_run": 1.25, "first_run_olist": 1.5, "changed": 0.2, "peak_rss_mb": 150.0}
TARGETS = {"first_run_vs_limit": 1.5, "load_vs_copy": 1.5, "backfill_vs_limit": 2.0, "naive_vs_backfill": 20.0, "one_day_ms": 150.0,
           "peak_rss_mb": 200.0, "daily_unchanged_vs_copy": 0.5, "daily_changed_vs_copy": 0.6, "report_s": 5.0}


def psql(url, *args, input=None):
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, *args], input=input, text=True,
                          capture_output=True, check=True).stdout


def timed(cmd, env=None):
    """Runs cmd under GNU time; returns (seconds, peak RSS in MB)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{proc.stderr}")
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    return seconds, rss_kb / 1024


def pipeline_env():
    env = dict(os.environ, DATABASE_URL=DB_URL, RUST_LOG="warn")
    env.pop("PIPELINE_DATA_DIR", None)
    return env


def truncate():
    psql(DB_URL, "-c", "TRUNCATE customer_daily_stats, order_items, orders, products, customers, rejected_rows, "
                       "order_changes, aggregate_days, pipeline_runs CASCADE")


def median(xs):
    return statistics.median(xs)


def bench(binary, data, reps, naive_days):
    psql(ADMIN, "-c", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(ADMIN, "-c", f"CREATE DATABASE {DB_NAME}")
    env = pipeline_env()
    cfg = ["--config", str(ROOT / "pipeline.toml"), "--data-dir", str(data)]
    subprocess.run([binary, *cfg[:2], "migrate"], env=env, check=True, capture_output=True)
    res = {"dataset": str(data)}

    # 1. load vs psql \copy, alternating so that both see the same machine state.
    ours, limit, rss = [], [], []
    copy_script = "\n".join(
        f"\\copy {table} ({cols}) FROM '{data / name}' WITH (FORMAT csv, HEADER true)" for table, name, cols in FILES)
    for _ in range(reps):
        truncate()
        start = time.perf_counter()
        psql(DB_URL, input=copy_script)
        limit.append(time.perf_counter() - start)
        truncate()
        seconds, mb = timed([binary, *cfg, "run", "--stage", "load"], env)
        ours.append(seconds)
        rss.append(mb)
    res["load_s"], res["copy_s"] = median(ours), median(limit)
    res["load_vs_copy"] = res["load_s"] / res["copy_s"]
    res["load_peak_rss_mb"] = max(rss)
    counts = psql(DB_URL, "-At", "-c", "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM rejected_rows)")
    res["orders"], res["rejected"] = (int(x) for x in counts.strip().split("|"))

    # 2. backfill vs one statement.
    first, last = psql(DB_URL, "-At", "-c", "SELECT min(order_purchase_timestamp)::date, "
                                            "max(order_purchase_timestamp)::date FROM orders").strip().split("|")
    first, last = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    ours, limit, rss = [], [], []
    limit_sql = (ROOT / "bench/limit_stats.sql").read_text()
    for _ in range(reps):
        start = time.perf_counter()
        psql(DB_URL, input=limit_sql)
        limit.append(time.perf_counter() - start)
        seconds, mb = timed([binary, *cfg, "run", "--stage", "customer_daily_stats"], env)
        ours.append(seconds)
        rss.append(mb)
    res["backfill_s"], res["limit_s"] = median(ours), median(limit)
    res["backfill_vs_limit"] = res["backfill_s"] / res["limit_s"]
    res["backfill_peak_rss_mb"] = max(rss)
    res["days"] = (last - first).days + 1
    diff = psql(DB_URL, "-At", "-c",
                "SELECT count(*) FROM ((SELECT stat_date, customer_unique_id, orders_count, canceled_orders_count, "
                "items_count, distinct_products, distinct_sellers, items_value, freight_value, total_spent, "
                "avg_order_value, first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date, "
                "days_since_previous_order, is_repeat_customer FROM limit_stats EXCEPT SELECT stat_date, customer_unique_id, "
                "orders_count, canceled_orders_count, items_count, distinct_products, distinct_sellers, items_value, "
                "freight_value, total_spent, avg_order_value, first_order_at, last_order_at, lifetime_orders, "
                "lifetime_spent, first_order_date, days_since_previous_order, is_repeat_customer "
                "FROM customer_daily_stats) UNION ALL (SELECT stat_date, customer_unique_id, orders_count, "
                "canceled_orders_count, items_count, distinct_products, distinct_sellers, items_value, freight_value, "
                "total_spent, avg_order_value, first_order_at, last_order_at, lifetime_orders, lifetime_spent, "
                "first_order_date, days_since_previous_order, is_repeat_customer FROM customer_daily_stats "
                "EXCEPT SELECT stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count, "
                "distinct_products, distinct_sellers, items_value, freight_value, total_spent, avg_order_value, "
                "first_order_at, last_order_at, lifetime_orders, lifetime_spent, first_order_date, "
                "days_since_previous_order, is_repeat_customer FROM limit_stats)) d")
    res["rows_differing_from_limit"] = int(diff.strip())
    res["rows"] = int(psql(DB_URL, "-At", "-c", "SELECT count(*) FROM customer_daily_stats").strip())

    # 3. the naive loop and one day's run: one process per day.
    k = min(naive_days, res["days"])
    step = res["days"] / k
    days = [first + dt.timedelta(days=int(i * step)) for i in range(k)]
    per_day = []
    for day in days:
        seconds, _ = timed([binary, *cfg, "run", "--date", day.isoformat(), "--stage", "customer_daily_stats"], env)
        per_day.append(seconds)
    res["naive_days_timed"] = k
    res["naive_loop_s"] = sum(per_day) / k * res["days"]
    res["naive_vs_backfill"] = res["naive_loop_s"] / res["backfill_s"]
    res["one_day_ms"] = median(per_day) * 1000
    res["orders_per_day"] = res["orders"] / res["days"]
    # 4. daily runs of a full export: unchanged, and with 0.1% of the orders changed.
    res.update(daily(binary, data, reps, last, env))
    res["peak_rss_mb"] = max(res["load_peak_rss_mb"], res["backfill_peak_rss_mb"], res["daily_peak_rss_mb"])

    # 6. the first run on an empty database vs the bulk limit.
    res.update(first_run(binary, data, reps, env))

    # 7. the report over the whole history.
    psql(DB_URL, "-c", "ANALYZE customer_daily_stats")
    with tempfile.TemporaryDirectory() as scratch:
        times = [timed([binary, *cfg[:2], "report", "--out", str(Path(scratch) / "report.html")], env)[0]
                 for _ in range(reps)]
    res["report_s"] = median(times)
    return res


KEYS_SQL = """
SELECT 'ALTER TABLE ' || conrelid::regclass || ' ADD CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid),
       'ALTER TABLE ' || conrelid::regclass || ' DROP CONSTRAINT ' || quote_ident(conname), contype
  FROM pg_constraint
 WHERE conrelid::regclass::text IN ('customers', 'products', 'orders', 'order_items') AND contype IN ('p', 'f')
UNION ALL
SELECT pg_get_indexdef(indexrelid), 'DROP INDEX ' || indexrelid::regclass, 'i'
  FROM pg_index i
 WHERE indrelid::regclass::text IN ('customers', 'products', 'orders', 'order_items')
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


def first_run(binary, data, reps, env):
    """`pipeline run` into a fresh database vs pg_restore's way plus the one statement, alternating."""
    cfg = ["--config", str(ROOT / "pipeline.toml"), "--data-dir", str(data)]
    limit_sql = (ROOT / "bench/limit_stats.sql").read_text()
    copy_script = "\n".join(
        f"\\copy {table} ({cols}) FROM '{data / name}' WITH (FORMAT csv, HEADER true)" for table, name, cols in FILES)
    ours, limit, limit_load, rss = [], [], [], []
    for _ in range(reps):
        fresh()
        subprocess.run([binary, *cfg[:2], "migrate"], env=env, check=True, capture_output=True)
        rows = [line.split("|") for line in psql(DB_URL, "-At", "-c", KEYS_SQL).strip().splitlines()]
        order = {"f": 0, "p": 1, "i": 2}
        drops = [r[1] for r in sorted(rows, key=lambda r: order[r[2]])]
        adds = [r[0] for r in sorted(rows, key=lambda r: -order[r[2]])]
        start = time.perf_counter()
        psql(DB_URL, "-c", "; ".join(drops))
        psql(DB_URL, input=copy_script)
        psql(DB_URL, "-c", "SET maintenance_work_mem = '256MB'; " + "; ".join(adds) + "; ANALYZE")
        limit_load.append(time.perf_counter() - start)
        psql(DB_URL, input=limit_sql)
        limit.append(time.perf_counter() - start)
        fresh()
        seconds, peak = timed([binary, *cfg, "run"], env)
        ours.append(seconds)
        rss.append(peak)
    return {"first_run_s": median(ours), "first_run_limit_s": median(limit),
            "first_run_vs_limit": median(ours) / median(limit), "restore_load_s": median(limit_load),
            "first_run_rss_mb": max(rss)}


def quick(binary, data, reps):
    """The issue's three headline ratios alone: the first run vs pg_restore's way plus one statement,
    then the daily runs (unchanged, 0.1% changed) vs pg_restore's way of loading."""
    env = pipeline_env()
    res = {"dataset": str(data)}
    res.update(first_run(binary, data, reps, env))
    last = psql(DB_URL, "-At", "-c", "SELECT max(order_purchase_timestamp)::date FROM orders").strip()
    res.update(daily(binary, data, reps, dt.date.fromisoformat(last), env))
    res["daily_unchanged_vs_restore"] = res["daily_unchanged_s"] / res["restore_load_s"]
    res["daily_changed_vs_restore"] = res["daily_changed_s"] / res["restore_load_s"]
    res["plain_unchanged_vs_restore"] = res["plain_unchanged_s"] / res["restore_load_s"]
    res["plain_changed_vs_restore"] = res["plain_changed_s"] / res["restore_load_s"]
    res.update(snapshot_daily(binary, data, reps, env))
    res["snapshot_vs_restore"] = res["snapshot_s"] / res["restore_load_s"]
    first_target = QUICK_TARGETS["first_run_olist" if "olist" in Path(data).name else "first_run"]
    print(f"\n== {data}: medians of {reps} (quick)")
    print(f"first run (load + days)   {res['first_run_s']:8.3f} s   pg_restore way + one statement "
          f"{res['first_run_limit_s']:8.3f} s   ratio " + verdict("first", res["first_run_vs_limit"], first_target)
          + f"   (peak RSS {res['first_run_rss_mb']:.0f} MB, target < {QUICK_TARGETS['peak_rss_mb']:.0f})")
    print(f"daily run, unchanged      {res['daily_unchanged_s']:8.3f} s   pg_restore way {res['restore_load_s']:8.3f} s   ratio "
          + verdict("daily", res["daily_unchanged_vs_restore"], 0.5))
    print(f"daily run, 0.1% changed   {res['daily_changed_s']:8.3f} s   pg_restore way {res['restore_load_s']:8.3f} s   ratio "
          + verdict("daily", res["daily_changed_vs_restore"], QUICK_TARGETS["changed"])
          + f"   ({res['daily_changed_orders']} orders changed: {res['daily_stale_days']:.0f} stale days, "
            f"{res['daily_people_refreshed']:.0f} people recomputed)")
    print(f"plain run, unchanged      {res['plain_unchanged_s']:8.3f} s   pg_restore way {res['restore_load_s']:8.3f} s   ratio "
          + verdict("plain", res["plain_unchanged_vs_restore"], 0.02))
    print(f"plain run, 0.1% changed   {res['plain_changed_s']:8.3f} s   pg_restore way {res['restore_load_s']:8.3f} s   ratio "
          + verdict("plain", res["plain_changed_vs_restore"], QUICK_TARGETS["changed"])
          + f"   ({res['plain_changed_days']:.0f} stale days recomputed, {res['plain_changed_rows']:.0f} rows, nothing else)")
    print(f"snapshot, 0.1% removed    {res['snapshot_s']:8.3f} s   pg_restore way {res['restore_load_s']:8.3f} s   ratio "
          f"{res['snapshot_vs_restore']:8.2f}   ({res['snapshot_removed_orders']} orders removed, "
          f"{res['snapshot_deleted_rows']:.0f} rows deleted, then back)")
    return res


ENGINE_DB_URL = ADMIN.rsplit("/", 1)[0] + "/pipeline_bench_engine"
STATS_COLUMNS = ("stat_date, customer_unique_id, orders_count, canceled_orders_count, items_count, distinct_products, "
                 "distinct_sellers, items_value, freight_value, total_spent, avg_order_value, first_order_at, "
                 "last_order_at, lifetime_orders, lifetime_spent, first_order_date, days_since_previous_order, "
                 "is_repeat_customer")


ENGINES = ("datafusion", "ballista", "postgres")


def free_port_pair():
    """A port free now whose next one is free too (an executor takes both)."""
    import socket
    while True:
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                    return port
                except OSError:
                    continue


def wait_listening(port):
    import socket
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"nothing listens on {port}")


def start_cluster(binary, workdir):
    """A scheduler and two executors of `binary` (one task slot, 2 GiB each); returns the scheduler's
    address and the processes."""
    scheduler = free_port_pair()
    procs = [subprocess.Popen([binary, "cluster", "scheduler", "--port", str(scheduler)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    wait_listening(scheduler)
    for name in ("a", "b"):
        port = free_port_pair()
        (workdir / name).mkdir()
        procs.append(subprocess.Popen(
            [binary, "cluster", "executor",
             "--scheduler", f"127.0.0.1:{scheduler}", "--port", str(port), "--vcores", "1",
             "--memory-mb", "2048", "--work-dir", str(workdir / name)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait_listening(port + 1)
    return f"df://127.0.0.1:{scheduler}", procs


def peak_rss_mb(pid):
    """A live process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop_cluster(procs, workdir):
    """Stops the processes; returns the executors' peak RSS in MB, read before they stop."""
    import signal
    peaks = [peak_rss_mb(proc.pid) for proc in procs[1:]]
    for proc in procs[1:]:
        os.killpg(proc.pid, signal.SIGTERM)
    procs[0].kill()
    for proc in procs:
        proc.wait()
    return peaks


def engines(binary, data, reps, chosen=ENGINES):
    """The backfill (`--full-refresh` of customer_daily_stats) of each engine in `chosen` vs the one
    statement, alternating, on files loaded once."""
    import shutil
    psql(ADMIN, "-c", "DROP DATABASE IF EXISTS pipeline_bench_engine WITH (FORCE)")
    psql(ADMIN, "-c", "CREATE DATABASE pipeline_bench_engine")
    env = dict(pipeline_env(), DATABASE_URL=ENGINE_DB_URL)
    workdir = Path(tempfile.mkdtemp())
    snapshots = workdir / "snapshots"
    ballista = "ballista" in chosen
    scheduler, cluster = start_cluster(binary, workdir) if ballista else (None, None)
    configs = {}
    base = (ROOT / "pipeline.toml").read_text()
    for engine in {*chosen, "postgres"}:
        options = f'engine = "{engine}"\n'
        if engine == "ballista":
            options += f'scheduler = "{scheduler}"\nsnapshot_dir = "{snapshots}"\n'
        configs[engine] = workdir / f"{engine}.toml"
        configs[engine].write_text(base.replace('type = "customer_daily_stats"\n',
                                                f'type = "customer_daily_stats"\n{options}'))
    cfg = lambda engine: ["--config", str(configs[engine]), "--data-dir", str(data)]
    subprocess.run([binary, *cfg("postgres"), "run", "--stage", "load"], env=env, check=True, capture_output=True)
    psql(ENGINE_DB_URL, "-c", "ANALYZE")
    limit_sql = (ROOT / "bench/limit_stats.sql").read_text()
    times = {"limit": [], **{engine: [] for engine in chosen}}
    rss = {engine: [] for engine in chosen}
    differing = {}
    refresh = ["run", "--stage", "customer_daily_stats", "--full-refresh"]
    shuffle_mb, snapshot_mb = [], []
    for _ in range(reps):
        start = time.perf_counter()
        psql(ENGINE_DB_URL, input=limit_sql)
        times["limit"].append(time.perf_counter() - start)
        for engine in chosen:
            shutil.rmtree(snapshots, ignore_errors=True)
            seconds, mb = timed([binary, *cfg(engine), *refresh], env)
            if engine == "ballista":
                # What the job shuffled (the executors remove a finished job's files a minute later),
                # and what the snapshot holds.
                shuffle_mb.append(sum(f.stat().st_size for name in ("a", "b")
                                      for f in (workdir / name).rglob("*") if f.is_file()) / 1e6)
                snapshot_mb.append(sum(f.stat().st_size for f in snapshots.rglob("*") if f.is_file()) / 1e6)
            times[engine].append(seconds)
            rss[engine].append(mb)
            differing[engine] = int(psql(ENGINE_DB_URL, "-At", "-c",
                f"SELECT count(*) FROM ((SELECT {STATS_COLUMNS} FROM limit_stats EXCEPT SELECT {STATS_COLUMNS} "
                f"FROM customer_daily_stats) UNION ALL (SELECT {STATS_COLUMNS} FROM customer_daily_stats "
                f"EXCEPT SELECT {STATS_COLUMNS} FROM limit_stats)) d").strip())
            # A refresh leaves the replaced rows dead; vacuumed here, untimed, autovacuum would
            # otherwise work through them during the next measurement, whichever it is.
            psql(ENGINE_DB_URL, "-c", "VACUUM customer_daily_stats")
    res = {"dataset": str(data), "rows": int(psql(ENGINE_DB_URL, "-At", "-c",
                                                  "SELECT count(*) FROM customer_daily_stats").strip()),
           "limit_s": median(times["limit"])}
    if ballista:
        # The snapshot kept from the run before: what a recomputation without a load in between costs.
        warm_s, _ = timed([binary, *cfg("ballista"), *refresh], env)
        executor_rss = stop_cluster(cluster, workdir)
        res.update({"ballista_snapshot_kept_s": warm_s, "ballista_executor_peak_rss_mb": max(executor_rss),
                    "ballista_shuffle_mb": max(shuffle_mb), "ballista_snapshot_mb": max(snapshot_mb)})
    for engine in chosen:
        res[f"{engine}_s"] = median(times[engine])
        res[f"{engine}_vs_limit"] = res[f"{engine}_s"] / res["limit_s"]
        res[f"{engine}_peak_rss_mb"] = max(rss[engine])
        res[f"{engine}_rows_differing_from_limit"] = differing[engine]
    print(f"\n== {data}: {res['rows']} rows, medians of {reps}")
    print(f"one statement             {res['limit_s']:8.3f} s")
    for engine, target in (("datafusion", 0.8), ("ballista", 0.8), ("postgres", TARGETS["backfill_vs_limit"])):
        if engine not in chosen:
            continue
        print(f"engine = \"{engine}\"{' ' * (10 - len(engine))}{res[f'{engine}_s']:8.3f} s   ratio "
              + verdict(engine, res[f"{engine}_vs_limit"], target)
              + f"   (peak RSS {res[f'{engine}_peak_rss_mb']:.0f} MB, "
                f"{res[f'{engine}_rows_differing_from_limit']} rows differing from the statement's)")
    if ballista:
        print(f"ballista, snapshot kept   {warm_s:8.3f} s   ratio {warm_s / res['limit_s']:8.2f}   "
              f"(executors' peak RSS {res['ballista_executor_peak_rss_mb']:.0f} MB; shuffle files "
              f"{res['ballista_shuffle_mb']:.0f} MB, snapshot {res['ballista_snapshot_mb']:.0f} MB)")
    return res


def fresh():
    psql(ADMIN, "-c", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(ADMIN, "-c", f"CREATE DATABASE {DB_NAME}")


def daily(binary, data, reps, last, env):
    """`run --date LAST` of the unchanged export, then alternately of the changed and the original
    export (each a daily run where 0.1% of the orders changed), vs the load limit measured before."""
    import tempfile
    cfg = lambda d: ["--config", str(ROOT / "pipeline.toml"), "--data-dir", str(d)]
    day = last.isoformat()
    unchanged, changed, rss, stale_days, people = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "changed"
        changes = change_export(data, other)
        changed_orders = sum(changes.values())
        for _ in range(reps):
            seconds, mb = timed([binary, *cfg(data), "run", "--date", day], env)
            unchanged.append(seconds)
            rss.append(mb)
        for i in range(reps):
            source = other if i % 2 == 0 else data
            start = time.perf_counter()
            proc = subprocess.run([binary, *cfg(source), "run", "--date", day, "--format", "json"], env=env,
                                  capture_output=True, text=True)
            changed.append(time.perf_counter() - start)
            if proc.returncode != 0:
                sys.exit(f"daily run failed:\n{proc.stderr}")
            record = json.loads(proc.stdout)["aggregates"][0]
            stale_days.append(record["days_stale_count"])
            people.append(record["people_refreshed"])
        # End on the original export.
        if reps % 2 == 1:
            subprocess.run([binary, *cfg(data), "run", "--date", day], env=env, check=True, capture_output=True)
        # Plain `run`, as cron runs it: brings everything up to date, nothing more.
        plain_unchanged, plain_changed, plain_days, plain_rows = [], [], [], []
        for _ in range(reps):
            seconds, _ = timed([binary, *cfg(data), "run"], env)
            plain_unchanged.append(seconds)
        for i in range(reps):
            source = other if i % 2 == 0 else data
            start = time.perf_counter()
            proc = subprocess.run([binary, *cfg(source), "run", "--format", "json"], env=env,
                                  capture_output=True, text=True)
            plain_changed.append(time.perf_counter() - start)
            if proc.returncode != 0:
                sys.exit(f"plain run failed:\n{proc.stderr}")
            record = json.loads(proc.stdout)["aggregates"][0]
            if record["days_due_count"] != 0 or record["days_computed"] != record["days_stale_count"]:
                sys.exit(f"a plain run computed more than the stale days: {record}")
            plain_days.append(record["days_computed"])
            plain_rows.append(record["rows_written"])
        if reps % 2 == 1:
            subprocess.run([binary, *cfg(data), "run"], env=env, check=True, capture_output=True)
    return {"daily_unchanged_s": median(unchanged), "daily_changed_s": median(changed),
            "daily_changed_orders": changed_orders, "daily_stale_days": median(stale_days),
            "daily_people_refreshed": median(people), "daily_peak_rss_mb": max(rss),
            "plain_unchanged_s": median(plain_unchanged), "plain_changed_s": median(plain_changed),
            "plain_changed_days": median(plain_days), "plain_changed_rows": median(plain_rows)}


def removed_export(data, out):
    """A copy of `data` in `out` without every 1000th order and its items (a full export after the
    shop removed 0.1% of its orders); returns how many orders it removed."""
    import csv
    link_unchanged(data, out, {"olist_orders_dataset.csv", "olist_order_items_dataset.csv"})
    removed = set()
    with open(data / "olist_orders_dataset.csv", newline="") as src, \
            open(out / "olist_orders_dataset.csv", "w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        for n, row in enumerate(reader, 1):
            if n % 1000 == 0:
                removed.add(row[0])
            else:
                writer.writerow(row)
    with open(data / "olist_order_items_dataset.csv", newline="") as src, \
            open(out / "olist_order_items_dataset.csv", "w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        for row in reader:
            if row[0] not in removed:
                writer.writerow(row)
    return len(removed)


def snapshot_daily(binary, data, reps, env):
    """Plain `run` under `deletes = "snapshot"`, alternately of an export without 0.1% of the orders
    (they are deleted, with their items, and their people's days recomputed) and of the original
    (they come back), vs the load limit measured before. The switch to the option (which reads
    every file once) is not timed."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "snapshot.toml"
        config.write_text((ROOT / "pipeline.toml").read_text().replace(
            'type = "postgres_load"\n', 'type = "postgres_load"\ndeletes = "snapshot"\n'))
        other = Path(tmp) / "removed"
        removed = removed_export(data, other)
        cfg = lambda d: ["--config", str(config), "--data-dir", str(d)]
        subprocess.run([binary, *cfg(data), "run"], env=env, check=True, capture_output=True)
        seconds, deleted = [], []
        for i in range(reps):
            source = other if i % 2 == 0 else data
            start = time.perf_counter()
            proc = subprocess.run([binary, *cfg(source), "run", "--format", "json"], env=env,
                                  capture_output=True, text=True)
            seconds.append(time.perf_counter() - start)
            if proc.returncode != 0:
                sys.exit(f"snapshot run failed:\n{proc.stderr}")
            if source == other:
                deleted.append(sum(d["deleted"] for d in json.loads(proc.stdout)["datasets"]))
        if reps % 2 == 1:
            subprocess.run([binary, *cfg(data), "run"], env=env, check=True, capture_output=True)
    return {"snapshot_removed_orders": removed, "snapshot_deleted_rows": median(deleted),
            "snapshot_s": median(seconds)}


def verdict(name, value, target, higher_is_better=False):
    ok = value >= target if higher_is_better else value <= target
    sign = ">=" if higher_is_better else "<="
    return f"{value:8.2f}  (target {sign} {target:g}: {'met' if ok else 'MISSED'})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", type=Path)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--naive-days", type=int, default=40)
    parser.add_argument("--binary", default=str(ROOT / "target/release/pipeline"))
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--quick", action="store_true",
                        help="only the first run and the daily runs, each vs pg_restore's way (the issue's targets)")
    parser.add_argument("--engine", action="store_true",
                        help="only the backfill of each engine (postgres, datafusion, ballista) vs the one statement")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="with --engine, which engines (comma-separated; default all three)")
    args = parser.parse_args()
    chosen = tuple(e for e in ENGINES if e in args.engines.split(","))
    if args.engine and not chosen:
        sys.exit(f"--engines: none of {', '.join(ENGINES)}")
    features = ["--features", "ballista" if "ballista" in chosen else "datafusion"] if args.engine else []
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "pipeline", *features], cwd=ROOT, check=True)
    datasets = args.datasets or [ROOT / "datasets/sample"]
    if not args.datasets:
        olist = ROOT.parent / "shared/datasets/olist-sample"
        if olist.exists():
            datasets.append(olist)
        else:
            print(f"skipping the Olist sample: {olist} is absent")
    results = []
    for data in datasets:
        if not (data / "olist_orders_dataset.csv").exists():
            print(f"skipping {data}: no olist_orders_dataset.csv")
            continue
        if args.engine:
            results.append(engines(args.binary, data.resolve(), args.reps, chosen))
            continue
        if args.quick:
            results.append(quick(args.binary, data.resolve(), args.reps))
            continue
        r = bench(args.binary, data.resolve(), args.reps, args.naive_days)
        results.append(r)
        print(f"\n== {r['dataset']}: {r['orders']} orders, {r['days']} days, {r['rows']} rows, "
              f"{r['rejected']} rejected, medians of {args.reps}")
        print(f"load                      {r['load_s']:8.3f} s   psql \\copy {r['copy_s']:8.3f} s   ratio "
              + verdict("load", r["load_vs_copy"], TARGETS["load_vs_copy"]))
        print(f"backfill                  {r['backfill_s']:8.3f} s   one statement {r['limit_s']:8.3f} s   ratio "
              + verdict("backfill", r["backfill_vs_limit"], TARGETS["backfill_vs_limit"]))
        print(f"per-day loop (extrapolated from {r['naive_days_timed']} days) {r['naive_loop_s']:8.1f} s   "
              f"speed-up of the backfill " + verdict("naive", r["naive_vs_backfill"], TARGETS["naive_vs_backfill"], True))
        print(f"one day's run (ms)        " + verdict("one day", r["one_day_ms"], TARGETS["one_day_ms"])
              + f"   ({r['orders_per_day']:.0f} orders a day on average)")
        r["daily_unchanged_vs_copy"] = r["daily_unchanged_s"] / r["copy_s"]
        r["daily_changed_vs_copy"] = r["daily_changed_s"] / r["copy_s"]
        print(f"daily run, unchanged      {r['daily_unchanged_s']:8.3f} s   psql \\copy {r['copy_s']:8.3f} s   ratio "
              + verdict("daily", r["daily_unchanged_vs_copy"], TARGETS["daily_unchanged_vs_copy"]))
        print(f"daily run, 0.1% changed   {r['daily_changed_s']:8.3f} s   psql \\copy {r['copy_s']:8.3f} s   ratio "
              + verdict("daily", r["daily_changed_vs_copy"], TARGETS["daily_changed_vs_copy"])
              + f"   ({r['daily_changed_orders']} orders changed: {r['daily_stale_days']:.0f} stale days, "
                f"{r['daily_people_refreshed']:.0f} people recomputed)")
        print(f"first run (load + days)   {r['first_run_s']:8.3f} s   pg_restore way + one statement "
              f"{r['first_run_limit_s']:8.3f} s   ratio " + verdict("first", r["first_run_vs_limit"], TARGETS["first_run_vs_limit"]))
        print(f"peak RSS (MB)             " + verdict("rss", r["peak_rss_mb"], TARGETS["peak_rss_mb"]))
        print(f"report, whole history (s) " + verdict("report", r["report_s"], TARGETS["report_s"]))
        print(f"rows differing from the independent statement: {r['rows_differing_from_limit']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
