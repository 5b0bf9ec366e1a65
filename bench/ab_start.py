#!/usr/bin/python3
"""A/B of two berthd builds at the API: the same cycles as workloads_start.py (create,
start, wait, remove of `busybox true`, `--network none` or the default bridge) and the same
exec (create+start+inspect of `true` in a running `sleep`), with the two daemons side by
side and alternated cycle by cycle, so the machine's load moves both alike. Prints the
median of every step for A and B, their quotient, and the median of the rounds' B÷A (paired).

    /usr/bin/python3 bench/ab_start.py --a OLD/berthd --b build/berthd [--rounds 60] [--network none]

Run as root; each berthd gets its own roots and bridge (bench/daemons.py), as in bench.py.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemons  # noqa: E402
from workloads import load_images  # noqa: E402
import workloads_start as ws  # noqa: E402

STEPS = ("create", "start", "wait", "remove", "cycle", "exec")


def ms(t0):
    return (time.perf_counter() - t0) * 1000


def cycle(c, hc, out):
    t = time.perf_counter()
    cid = c.call("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"], "HostConfig": hc})["Id"]
    out["create"].append(ms(t))
    t1 = time.perf_counter()
    c.call("POST", f"/containers/{cid}/start")
    out["start"].append(ms(t1))
    t1 = time.perf_counter()
    c.call("POST", f"/containers/{cid}/wait")
    out["wait"].append(ms(t1))
    t1 = time.perf_counter()
    c.call("DELETE", f"/containers/{cid}")
    out["remove"].append(ms(t1))
    out["cycle"].append(ms(t))


def execute(c, sleeper, out):
    t = time.perf_counter()
    eid = c.call("POST", f"/containers/{sleeper}/exec",
                 {"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True})["Id"]
    c.stream("POST", f"/exec/{eid}/start", {"Detach": False, "Tty": False})
    c.call("GET", f"/exec/{eid}/json")
    out["exec"].append(ms(t))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", required=True, help="berthd of the baseline")
    p.add_argument("--b", required=True, help="berthd to compare")
    p.add_argument("--rounds", type=int, default=60)
    p.add_argument("--network", default="none", choices=("none", "bridge"))
    a = p.parse_args()
    env = daemons.Env(berthd=a.b, docker_cli="/usr/local/bin/docker")
    try:
        ds, conns, sleepers, res = [], [], [], []
        for label, binary in (("A", a.a), ("B", a.b)):
            d = daemons.Berthd(env, "berth-" + label, binary)
            d.start()
            load_images(d)
            ds.append(d)
            conns.append(ws._conn(d))
            sleepers.append(ws._sleeper(d, a.network))
            res.append({s: [] for s in STEPS})
        hc = ws._host_config(a.network)
        for i in range(a.rounds + 2):
            order = (0, 1) if i % 2 == 0 else (1, 0)
            for k in order:
                out = res[k] if i >= 2 else {s: [] for s in STEPS}  # two warm-up rounds
                cycle(conns[k], hc, out)
                execute(conns[k], sleepers[k], out)
        print(f"A/B, --network {a.network}, {a.rounds} rounds each, alternated; load average "
              f"{os.getloadavg()[0]:.1f} at the end")
        print(f"  A = {a.a}\n  B = {a.b}")
        print(f"{'step':<10} {'A median':>10} {'B median':>10} {'B/A':>6} {'paired':>7}")
        for s in STEPS:
            ma, mb = statistics.median(res[0][s]), statistics.median(res[1][s])
            # the median of B÷A over the rounds, each pair measured back to back: less
            # moved by the machine's load changing over the run than the medians' quotient
            paired = statistics.median(b / a for a, b in zip(res[0][s], res[1][s]))
            print(f"{s:<10} {ma:8.2f} ms {mb:8.2f} ms {mb / ma:6.2f} {paired:7.2f}")
        ws._conns.clear()
        ws._sleepers.clear()
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
