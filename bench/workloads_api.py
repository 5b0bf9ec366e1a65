"""Workloads of issue 13: API calls timed at the API (raw HTTP on the daemon's unix socket,
so the CLI's start-up hides nothing). Imported at the end of workloads.py.

The containers they need are made once per daemon (through the API, not timed) and kept
for the rounds: 250 running (`sleep 3600`) and 250 exited (`true`), labelled bench=api.
"""
import http.client
import json
import socket
import time

from workloads import Goal, Workload

N_RUNNING = 250
N_EXITED = 250
N_STATS = 50
N_UPDATE = 50
LIST_REPEAT = 5
LABEL = "bench=api"
_ready = set()


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def _call(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
    return data


def _ours(conn):
    q = json.dumps({"label": [LABEL]})
    import urllib.parse
    return json.loads(_call(conn, "GET", "/v1.41/containers/json?all=1&filters=" + urllib.parse.quote(q)))


def _setup(daemon):
    """250 running and 250 exited containers of ours, made once per daemon."""
    if daemon.sock in _ready:
        return
    conn = UnixHTTP(daemon.sock)
    have = _ours(conn)
    running = sum(1 for c in have if c["State"] == "running")
    exited = sum(1 for c in have if c["State"] == "exited")
    for i in range(max(0, N_RUNNING - running)):
        cid = json.loads(_call(conn, "POST", "/v1.41/containers/create",
                               {"Image": "busybox", "Cmd": ["sleep", "3600"], "Labels": {"bench": "api"},
                                "HostConfig": {"NetworkMode": "none"}}))["Id"]
        _call(conn, "POST", f"/v1.41/containers/{cid}/start")
    for i in range(max(0, N_EXITED - exited)):
        cid = json.loads(_call(conn, "POST", "/v1.41/containers/create",
                               {"Image": "busybox", "Cmd": ["true"], "Labels": {"bench": "api"},
                                "HostConfig": {"NetworkMode": "none"}}))["Id"]
        _call(conn, "POST", f"/v1.41/containers/{cid}/start")
    deadline = time.time() + 120
    while time.time() < deadline:
        have = _ours(conn)
        if sum(1 for c in have if c["State"] == "exited") >= N_EXITED:
            break
        time.sleep(0.5)
    conn.close()
    _ready.add(daemon.sock)


def list_all(daemon):
    """GET /containers/json?all=1 with 500 containers, mean of LIST_REPEAT calls, in ms."""
    _setup(daemon)
    conn = UnixHTTP(daemon.sock)
    try:
        n = len(json.loads(_call(conn, "GET", "/v1.41/containers/json?all=1")))  # warm the connection
        if n < N_RUNNING + N_EXITED:
            raise RuntimeError(f"only {n} containers listed")
        t0 = time.perf_counter()
        for _ in range(LIST_REPEAT):
            _call(conn, "GET", "/v1.41/containers/json?all=1")
        return (time.perf_counter() - t0) * 1000.0 / LIST_REPEAT
    finally:
        conn.close()


def stats_one_shot(daemon):
    """GET /containers/{id}/stats?stream=0&one-shot=1 of 50 running containers, one after
    the other on one connection, total in ms."""
    _setup(daemon)
    conn = UnixHTTP(daemon.sock)
    try:
        ids = [c["Id"] for c in _ours(conn) if c["State"] == "running"][:N_STATS]
        if len(ids) < N_STATS:
            raise RuntimeError(f"only {len(ids)} running containers")
        t0 = time.perf_counter()
        for cid in ids:
            s = json.loads(_call(conn, "GET", f"/v1.41/containers/{cid}/stats?stream=0&one-shot=1"))
            if "memory_stats" not in s:
                raise RuntimeError(f"stats of {cid[:12]}: no memory_stats")
        return (time.perf_counter() - t0) * 1000.0
    finally:
        conn.close()


def update_memory(daemon):
    """POST /containers/{id}/update with a new memory limit (swap unlimited, which dockerd
    needs for a container created without one) of 50 running containers, in turn, total in
    ms: the record written and the cgroup changed each time."""
    _setup(daemon)
    conn = UnixHTTP(daemon.sock)
    try:
        ids = [c["Id"] for c in _ours(conn) if c["State"] == "running"][:N_UPDATE]
        if len(ids) < N_UPDATE:
            raise RuntimeError(f"only {len(ids)} running containers")
        _update_round = getattr(update_memory, "round", 0) + 1
        update_memory.round = _update_round
        mem = (64 + 8 * (_update_round % 4)) << 20  # a different value each round: a real change
        t0 = time.perf_counter()
        for cid in ids:
            _call(conn, "POST", f"/v1.41/containers/{cid}/update", {"Memory": mem, "MemorySwap": -1})
        return (time.perf_counter() - t0) * 1000.0
    finally:
        conn.close()


WORKLOADS_API = [
    Workload("GET /containers/json?all=1 (500)", "ms", list_all, needs_images=True,
             goal=Goal("≤ 0.20× dockerd", max_ratio=0.20),
             description="one `GET /containers/json?all=1` with 250 running and 250 exited containers"),
    Workload("50× stats one-shot", "ms", stats_one_shot, needs_images=True,
             goal=Goal("≤ 0.30× dockerd", max_ratio=0.30),
             description="`GET /containers/{id}/stats?stream=0&one-shot=1` of 50 running containers, in turn"),
    Workload("50× update --memory", "ms", update_memory, needs_images=True,
             goal=Goal("≤ 0.30× dockerd", max_ratio=0.30),
             description="`POST /containers/{id}/update` (a new memory limit) of 50 running containers, in turn"),
]
