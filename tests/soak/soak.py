#!/usr/bin/env python3
"""soak.py - berth's soak test (`make soak SOAK_MINUTES=N`, default 20).

A fixed workload loops for N minutes against a berthd of its own (the end-to-end
harness: temporary roots, a bridge and a 10.N.0.0/16 of its own) and a local registry on
127.0.0.1: `run --rm`, `exec` into a long-running container, `logs`, `create`/`rm`,
`pull`/`rmi` from the registry, `network create`/`rm`. Every SOAK_INTERVAL seconds it
samples the resident memory, descriptors and threads of berthd and of each berth-shim.
After the warm-up (the first quarter of the run) nothing may grow: descriptors and
threads of berthd end no higher than where the warm-up left them, and berthd's memory
grows by less than SOAK_RSS_SLOPE KiB a minute (least-squares slope of the samples).
The samples go to build/soak/samples.csv and the summary to build/soak/summary.json.
"""
import argparse
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
E2E = os.path.join(ROOT, "tests", "e2e")
sys.path.insert(0, E2E)
_spec = importlib.util.spec_from_file_location("berth_e2e_harness", os.path.join(E2E, "conftest.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)
import registry as reglib  # noqa: E402 (tests/e2e/registry.py)


def counts(pid):
    fds = len(os.listdir("/proc/%d/fd" % pid))
    threads = len(os.listdir("/proc/%d/task" % pid))
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, fds, threads


def shims_of(base):
    """PIDs of the berth-shim processes serving this daemon's containers (their bundle
    argument lies under the daemon's temporary directory)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"berth-shim") and any(a.startswith(base.encode()) for a in argv[1:]):
            out.append(int(p))
    return out


def slope_per_minute(ts, ys):
    n = len(ts)
    if n < 2:
        return 0.0
    mt, my = sum(ts) / n, sum(ys) / n
    den = sum((t - mt) ** 2 for t in ts)
    return 0.0 if den == 0 else sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / den * 60.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "20")))
    ap.add_argument("--interval", type=float, default=float(os.environ.get("SOAK_INTERVAL", "10")))
    ap.add_argument("--rss-slope", type=float, default=float(os.environ.get("SOAK_RSS_SLOPE", "64")),
                    help="largest berthd RSS growth after the warm-up, KiB per minute")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "soak"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    storage = tempfile.mkdtemp(prefix="berth-soak-registry-")
    reglib.extract_storage(os.path.join(ROOT, "tests", "fixtures", "registry", "peer-registry-storage.tar"), storage)
    reg = reglib.Registry(storage=storage).start()
    d = harness.Berthd().start()
    cli = harness.DockerCLI(d.host)
    samples, rounds, errors = [], 0, []
    t_start = time.monotonic()
    try:
        cli.run("load", "-i", os.path.join(ROOT, "tests", "fixtures", "busybox-docker-archive.tar"), timeout=120)
        keeper = cli.run("run", "-d", "--name", "soak-keeper", "busybox", "sh", "-c",
                         "trap 'exit 0' TERM; while true; do echo tick; sleep 1; done").stdout.strip()
        ref = reg.host + "/busybox:latest"
        pid = d.proc.pid

        def sample():
            t = time.monotonic() - t_start
            rss, fds, threads = counts(pid)
            shims = []
            for sp in shims_of(d.base):
                try:
                    shims.append((sp,) + counts(sp))
                except OSError:
                    pass  # ended between the listing and the reading
            samples.append({"t": round(t, 1), "rounds": rounds, "rss_kib": rss, "fds": fds, "threads": threads,
                            "shims": len(shims), "shim_rss_kib": sum(s[1] for s in shims),
                            "shim_fds": sum(s[2] for s in shims), "shim_threads": sum(s[3] for s in shims)})

        def step(*argv, **kw):
            p = cli.run(*argv, check=False, timeout=120, **kw)
            if p.returncode != 0:
                errors.append("docker %s: %s" % (" ".join(argv), p.stderr.strip()[:300]))
            return p

        deadline = t_start + args.minutes * 60
        next_sample = time.monotonic()
        while time.monotonic() < deadline:
            if time.monotonic() >= next_sample:
                sample()
                next_sample += args.interval
            rounds += 1
            out = step("run", "--rm", "busybox", "sh", "-c", "echo soak-%d" % rounds).stdout
            if out.strip() != "soak-%d" % rounds:
                errors.append("run --rm printed %r" % out)
            step("exec", keeper, "sh", "-c", "echo exec-$$")
            step("logs", "--tail", "5", keeper)
            cid = step("create", "busybox", "true").stdout.strip()
            if cid:
                step("start", cid)
                step("wait", cid)
                step("logs", cid)
                step("rm", cid)
            step("pull", "-q", ref)
            step("rmi", ref)
            net = "soak-net-%d" % rounds
            step("network", "create", net)
            step("network", "rm", net)
            if len(errors) > 20:
                break
        # The last sample once the connection threads of the last commands have ended.
        warm_floor = [s_ for s_ in samples if s_["t"] >= args.minutes * 60 / 4] or samples
        floor_fds, floor_threads = min(s_["fds"] for s_ in warm_floor), min(s_["threads"] for s_ in warm_floor)
        for _ in range(50):
            _, fds, threads = counts(pid)
            if fds <= floor_fds and threads <= floor_threads:
                break
            time.sleep(0.2)
        sample()
        step("rm", "-f", keeper)
    finally:
        cli.cleanup()
        d.cleanup()
        reg.cleanup()
        shutil.rmtree(storage, ignore_errors=True)

    with open(os.path.join(args.out, "samples.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(samples[0]))
        w.writeheader()
        for s in samples:
            w.writerow(s)
    warm = [s for s in samples if s["t"] >= args.minutes * 60 / 4]
    if len(warm) < 3:
        warm = samples[len(samples) // 4:]
    ts = [s["t"] for s in warm]
    summary = {
        "minutes": args.minutes, "rounds": rounds, "errors": errors[:20], "samples": len(samples),
        "after_warmup": {k: {"first": warm[0][k], "last": warm[-1][k], "min": min(s[k] for s in warm),
                             "max": max(s[k] for s in warm),
                             "slope_per_min": round(slope_per_minute(ts, [s[k] for s in warm]), 2)}
                         for k in ("rss_kib", "fds", "threads", "shim_rss_kib", "shim_fds", "shim_threads")},
        "start": samples[0], "end": samples[-1],
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("t_s    rounds  rss_kib  fds  threads  shims  shim_rss_kib  shim_fds  shim_threads")
    for s in samples:
        print("%-6s %6d %8d %4d %8d %6d %13d %9d %13d" % (s["t"], s["rounds"], s["rss_kib"], s["fds"], s["threads"],
                                                          s["shims"], s["shim_rss_kib"], s["shim_fds"],
                                                          s["shim_threads"]))
    print(json.dumps(summary["after_warmup"], indent=1))
    aw = summary["after_warmup"]
    failed = []
    if errors:
        failed.append("%d workload errors, first: %s" % (len(errors), errors[0]))
    # The last sample comes after the loop, when nothing is in flight: a descriptor or
    # thread more than the fewest seen after the warm-up (a sample taken while a command's
    # connection is open counts one more) is a leak.
    if samples[-1]["fds"] > aw["fds"]["min"] or samples[-1]["threads"] > aw["threads"]["min"]:
        failed.append("berthd descriptors/threads grew after the warm-up: %s -> %s fds, %s -> %s threads"
                      % (aw["fds"]["min"], samples[-1]["fds"], aw["threads"]["min"], samples[-1]["threads"]))
    if aw["rss_kib"]["slope_per_min"] > args.rss_slope:
        failed.append("berthd RSS grows %.1f KiB/min after the warm-up (limit %g)"
                      % (aw["rss_kib"]["slope_per_min"], args.rss_slope))
    if aw["shim_fds"]["max"] > aw["shim_fds"]["min"] + 8 or aw["shim_threads"]["max"] > aw["shim_threads"]["min"] + 4:
        failed.append("shim descriptors/threads vary past a container's own: %s" % aw)
    for f_ in failed:
        print("soak: FAILED: " + f_)
    print("soak: %d rounds in %.1f minutes, %s" % (rounds, args.minutes, "FAILED" if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
