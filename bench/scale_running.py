#!/usr/bin/python3
"""N running containers (issue 18): the daemon's RSS beside them, the mean PSS of their
supervisors (berth-shim / containerd-shim-runc-v2), and `docker ps` (CLI, median of 5)
and `GET /containers/json` (median of 5), berthd and dockerd side by side.

    /usr/bin/python3 bench/scale_running.py [--n 1000] [--dockerd-n 200] [--no-dockerd] [--breakdown]

The containers are `busybox sleep 3600` with --network none, made through the API. dockerd
takes about a second per container on a loaded 2-core machine, so --dockerd-n may be
smaller than --n; the figures are then compared at the same N (the smaller one, measured
on the way up) and the berth figures at the larger N show the scaling. --breakdown prints,
at each mark, where berthd's resident memory is (bench/memmap.py: each library's text and
data, heap, arenas, thread stacks). Run as root.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemons  # noqa: E402
import memmap  # noqa: E402
from workloads import load_images, time_docker  # noqa: E402
import workloads_start as ws  # noqa: E402
from workloads_api import UnixHTTP, _call  # noqa: E402
from workloads_run import _pss_kb, _shim_pids  # noqa: E402


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def measure(d, n):
    time.sleep(2)
    shims = _shim_pids(d)
    pss = sum(_pss_kb(p) for p in shims) / len(shims) if shims else float("nan")
    ps = statistics.median(time_docker(d, "ps", "-q") for _ in range(5))
    h = UnixHTTP(d.sock)  # http.client: its reads of a large body are the fastest of the Python clients here
    api = []
    for _ in range(5):
        t0 = time.perf_counter()
        got = json.loads(_call(h, "GET", "/v1.41/containers/json"))
        api.append((time.perf_counter() - t0) * 1000)
    h.close()
    if len(got) < n:
        raise RuntimeError(f"{d.kind}: {len(got)} running of {n}")
    return {"n": n, "daemon_rss_mb": rss_kb([d.pid]) / 1024, "tree_rss_mb": d.rss_bytes() / 2**20,
            "shims": len(shims), "shim_pss_kb": pss, "docker_ps_ms": ps, "api_list_ms": statistics.median(api)}


def grow(d, upto, marks, breakdown=False):
    c = ws._conn(d)
    have = len(c.call("GET", "/containers/json"))
    out = []
    t0 = time.time()
    for i in range(have, upto):
        cid = c.call("POST", "/containers/create", {"Image": "busybox", "Cmd": ["sleep", "3600"],
                                                    "HostConfig": {"NetworkMode": "none"}})["Id"]
        c.call("POST", f"/containers/{cid}/start")
        if i + 1 in marks:
            m = measure(d, i + 1)
            m["start_s"] = time.time() - t0
            print(f"{d.kind}: {m}", flush=True)
            if breakdown and d.kind == "berth":
                print(memmap.report(d.pid), flush=True)
            out.append(m)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--dockerd-n", type=int, default=200)
    p.add_argument("--no-dockerd", action="store_true")
    p.add_argument("--breakdown", action="store_true", help="berthd's smaps grouped, at each mark")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--berthd", default=os.path.join(root, "build", "berthd"))
    p.add_argument("--dockerd", default="/usr/sbin/dockerd")
    p.add_argument("--docker", default="/usr/local/bin/docker")
    a = p.parse_args()
    env = daemons.Env(berthd=a.berthd, dockerd=a.dockerd, docker_cli=a.docker)
    try:
        kinds = [("berth", daemons.Berthd(env, "berth", a.berthd), a.n)]
        if not a.no_dockerd:
            kinds.append(("dockerd", daemons.Dockerd(env, "dockerd", a.dockerd), a.dockerd_n))
        marks = sorted({m for m in (10, 100, 200, 500, 1000, a.dockerd_n, a.n) if m <= a.n})
        for kind, d, n in kinds:
            d.start()
            load_images(d)
            grow(d, n, [m for m in marks if m <= n], a.breakdown)
            d.discard()  # removes its containers before it stops
            ws._conns.clear()
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
