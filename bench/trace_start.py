#!/usr/bin/python3
"""Where a start's time goes: run berthd with BERTH_TRACE (src/common/trace.h), drive N
container lives (create, start, wait, remove of `busybox true`) and N execs at the API,
and print, for each mark of berthd, berth-shim and the container's init, the median time
since the client sent the request, and since the mark before.

    /usr/bin/python3 bench/trace_start.py [--rounds 20] [--network none|bridge] [--exec]

Run as root; berthd gets its own roots and bridge (bench/daemons.py), as in bench.py.
"""
import argparse
import re
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemons  # noqa: E402
from workloads import load_images  # noqa: E402
import workloads_start as ws  # noqa: E402


def now():
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def mark(f, what):
    f.write(f"{now():.9f} {os.getpid()} client {what}\n")
    f.flush()


def parse(path):
    lines = []
    with open(path) as f:
        for line in f:
            t, pid, what = line.rstrip("\n").split(" ", 2)
            what = re.sub(r"\b[0-9a-f]{12}\b", "ID", what)
            lines.append((float(t), int(pid), what))
    lines.sort()
    return lines


def phases(lines, begin, end):
    """Split the trace into spans from a `client BEGIN` line to the next `client END`."""
    spans, cur = [], None
    for t, pid, what in lines:
        if what == f"client {begin}":
            cur = [(t, what)]
        elif cur is not None:
            cur.append((t, what))
            if what == f"client {end}":
                spans.append(cur)
                cur = None
    return spans


def report(title, spans):
    print(f"\n{title}: {len(spans)} rounds, medians (ms)")
    print(f"{'since request':>14} {'step':>8}  mark")
    # marks by their order of first appearance; a mark seen twice in a span counts once
    order = []
    for sp in spans:
        for _, what in sp:
            if what not in order:
                order.append(what)
    at = {w: [] for w in order}
    for sp in spans:
        t0 = sp[0][0]
        seen = set()
        for t, what in sp:
            if what not in seen:
                at[what].append((t - t0) * 1000)
                seen.add(what)
    order.sort(key=lambda w: statistics.median(at[w]))
    prev = 0.0
    for w in order:
        m = statistics.median(at[w])
        print(f"{m:14.2f} {m - prev:8.2f}  {w}" + ("" if len(at[w]) == len(spans) else f"  ({len(at[w])} rounds)"))
        prev = m


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--network", default="none", choices=("none", "bridge", "publish"),
                   help="publish: the default bridge and -p 127.0.0.1::80")
    p.add_argument("--berthd", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                    "build", "berthd"))
    p.add_argument("--docker", default="/usr/local/bin/docker")
    p.add_argument("--runtime", help="HostConfig.Runtime of the containers (runc: the external-runtime path)")
    p.add_argument("--no-exec", action="store_true", help="the start cycles only")
    p.add_argument("--rm", action="store_true",
                   help="AutoRemove containers, waited for with condition=removed (docker run --rm's path)")
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    env = daemons.Env(berthd=a.berthd, docker_cli=a.docker, keep=a.keep)
    trace = os.path.join(env.root, "trace.log")
    os.environ["BERTH_TRACE"] = trace
    try:
        d = daemons.Berthd(env, "berth", a.berthd)
        d.start()
        load_images(d)
        c = ws._conn(d)
        hc = ws._host_config(a.network)
        if a.runtime:
            hc["Runtime"] = a.runtime
        if a.network == "publish":
            hc = {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}}
        if a.rm:
            hc = dict(hc, AutoRemove=True)
        rm_waiter = None
        with open(trace, "a") as f:
            for i in range(a.rounds + 1):
                cid = c.call("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"], "HostConfig": hc,
                                                            "ExposedPorts": {"80/tcp": {}} if a.network == "publish" else {}})["Id"]
                if a.rm:  # the CLI's wait for removal, asked before the start as the CLI does
                    w = rm_waiter = rm_waiter or ws._Conn(d.sock)
                    if w.sock is None:
                        w.sock, w.buf = w._connect(), bytearray()
                    w.sock.sendall(w._head("POST", f"/containers/{cid}/wait?condition=removed", None))
                    time.sleep(0.005)  # berthd has it before the start
                mark(f, "start request")
                c.call("POST", f"/containers/{cid}/start")
                mark(f, "start answered")
                if a.rm:
                    w.answer("POST", "wait?condition=removed")
                    mark(f, "wait answered")
                    mark(f, "remove answered")
                    continue
                c.call("POST", f"/containers/{cid}/wait")
                mark(f, "wait answered")
                c.call("DELETE", f"/containers/{cid}")
                mark(f, "remove answered")
            sleeper = None if a.no_exec else ws._sleeper(d, "bridge" if a.network == "publish" else a.network)
            for i in range(0 if a.no_exec else a.rounds + 1):
                mark(f, "exec request")
                eid = c.call("POST", f"/containers/{sleeper}/exec",
                             {"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True})["Id"]
                mark(f, "exec created")
                c.stream("POST", f"/exec/{eid}/start", {"Detach": False, "Tty": False})
                mark(f, "exec stream ended")
                c.call("GET", f"/exec/{eid}/json")
                mark(f, "exec inspected")
        ws._conns.clear()
        ws._sleepers.clear()
        lines = parse(trace)
        report(f"start, --network {a.network}", phases(lines, "start request", "remove answered")[1:])
        if not a.no_exec:
            report(f"exec, --network {a.network}", phases(lines, "exec request", "exec inspected")[1:])
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
