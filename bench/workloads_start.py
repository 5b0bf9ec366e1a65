"""Workloads of issue 18: a container's life, step by step, timed at the API.

A small client of its own talks HTTP/1.1 over the daemon's unix socket (no docker-py, no
CLI: their start-up would hide the daemon), one connection kept open per daemon as
docker-py's APIClient does. Imported at the end of workloads.py.

One *cycle* is the life of a `busybox true` container: create, start, wait (for it to
exit), remove. Every cycle times all four steps; the first workload of a group runs the
cycle and keeps the other steps' times for the workloads after it, so each step's median
comes from the same rounds and a round costs one cycle, not four. The group runs twice:
with `--network none` and on the default bridge.

exec: `POST /containers/{id}/exec` + `POST /exec/{id}/start` (attached, as the CLI does:
upgraded connection, read to EOF) + `GET /exec/{id}/json` of `true` in a running
`sleep` container of the bench's own (label bench=start, made once per daemon and
network mode, not timed). inspect and list: `GET /containers/{id}/json` of that container
and `GET /containers/json` (running containers only).
"""
import json
import socket
import time

from workloads import Goal, Workload

LABEL = {"bench": "start"}
API = "/v1.41"
_pending = {}      # (kind, net, step) -> [ms, ...] measured by a cycle, not yet reported
_conns = {}        # daemon socket -> _Conn
_sleepers = {}     # (daemon socket, net) -> container id


class _Conn:
    """HTTP/1.1 keep-alive over AF_UNIX, just enough for the Engine API's JSON answers
    (Content-Length or chunked bodies)."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.buf = bytearray()

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(120)
        s.connect(self.path)
        return s

    def _fill(self, s):
        b = s.recv(1 << 20)
        if not b:
            raise ConnectionError("connection closed")
        self.buf += b  # a bytearray: appending is amortized O(1) (large listings)

    def _readline(self, s):
        while (i := self.buf.find(b"\r\n")) < 0:
            self._fill(s)
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def _readn(self, s, n):
        while len(self.buf) < n:
            self._fill(s)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _head(self, method, path, body, extra=""):
        data = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {API}{path} HTTP/1.1\r\nHost: docker\r\n{extra}"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        head += f"Content-Length: {len(data)}\r\n\r\n"
        return head.encode() + data

    def call(self, method, path, body=None, ok=(200, 201, 204)):
        if self.sock is None:
            self.sock, self.buf = self._connect(), bytearray()
        try:
            return self._call(method, path, body, ok)
        except (ConnectionError, OSError):
            self.close()
            raise

    def _call(self, method, path, body, ok):
        self.sock.sendall(self._head(method, path, body))
        return self.answer(method, path, ok)

    def answer(self, method, path, ok=(200, 201, 204)):
        """The answer to a request sent on this connection (by _call, or by hand)."""
        s = self.sock
        status = int(self._readline(s).split()[1])
        headers = {}
        while True:
            line = self._readline(s)
            if not line:
                break
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                n = int(self._readline(s).split(b";")[0], 16)
                if n == 0:
                    while self._readline(s):
                        pass
                    break
                parts.append(self._readn(s, n))
                self._readn(s, 2)
            data = b"".join(parts)
        else:
            data = self._readn(s, int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        if status not in ok:
            raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
        return json.loads(data) if data.strip() else None

    def stream(self, method, path, body):
        """A request whose answer is a hijacked stream (exec start): on a connection of its
        own, upgraded as the CLI asks; read to EOF. Returns the bytes after the headers."""
        s = self._connect()
        try:
            s.sendall(self._head(method, path, body, "Connection: Upgrade\r\nUpgrade: tcp\r\n"))
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        finally:
            s.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        status = int(head.split()[1]) if head else 0
        if status not in (101, 200):
            raise RuntimeError(f"{method} {path}: {head[:200]!r} {rest[:200]!r}")
        return rest

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def _conn(daemon):
    c = _conns.get(daemon.sock)
    if c is None:
        c = _conns[daemon.sock] = _Conn(daemon.sock)
    return c


def _host_config(net):
    return {"NetworkMode": "none"} if net == "none" else {}


def _ms(t0):
    return (time.perf_counter() - t0) * 1000.0


def _cycle(daemon, net):
    """create, start, wait, remove of `busybox true`: the ms of each step."""
    c = _conn(daemon)
    t0 = time.perf_counter()
    cid = c.call("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"], "Labels": LABEL,
                                                "HostConfig": _host_config(net)})["Id"]
    t1 = time.perf_counter()
    c.call("POST", f"/containers/{cid}/start")
    t2 = time.perf_counter()
    w = c.call("POST", f"/containers/{cid}/wait")
    t3 = time.perf_counter()
    c.call("DELETE", f"/containers/{cid}")
    t4 = time.perf_counter()
    if w.get("StatusCode") != 0:
        raise RuntimeError(f"`true` exited {w}")
    ms = lambda a, b: (b - a) * 1000.0  # noqa: E731
    return {"create": ms(t0, t1), "start": ms(t1, t2), "wait": ms(t2, t3), "remove": ms(t3, t4),
            "create+start+wait+remove": ms(t0, t4)}


def _step(step, net):
    def fn(daemon):
        key = (daemon.kind, net, step)
        if not _pending.get(key):
            for k, v in _cycle(daemon, net).items():
                _pending.setdefault((daemon.kind, net, k), []).append(v)
        return _pending[key].pop(0)
    fn.__name__ = f"api_{step}_{net}"
    return fn


def _sleeper(daemon, net):
    """A running `sleep` container of ours for exec and inspect (made again when another
    workload removed it)."""
    c = _conn(daemon)
    cid = _sleepers.get((daemon.sock, net))
    if cid:
        try:
            if c.call("GET", f"/containers/{cid}/json")["State"]["Running"]:
                return cid
        except RuntimeError:
            pass
    cid = c.call("POST", "/containers/create", {"Image": "busybox", "Cmd": ["sleep", "3600"], "Labels": LABEL,
                                                "HostConfig": _host_config(net)})["Id"]
    c.call("POST", f"/containers/{cid}/start")
    _sleepers[(daemon.sock, net)] = cid
    return cid


def _exec(net):
    def fn(daemon):
        cid = _sleeper(daemon, net)
        c = _conn(daemon)
        t0 = time.perf_counter()
        eid = c.call("POST", f"/containers/{cid}/exec",
                     {"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True})["Id"]
        c.stream("POST", f"/exec/{eid}/start", {"Detach": False, "Tty": False})
        while True:
            st = c.call("GET", f"/exec/{eid}/json")
            if not st["Running"]:
                break
            if _ms(t0) > 10000:
                raise RuntimeError("exec still running after 10 s")
        t = _ms(t0)
        if st["ExitCode"] != 0:
            raise RuntimeError(f"exec `true` exited {st['ExitCode']}")
        return t
    fn.__name__ = f"api_exec_{net}"
    return fn


def _inspect(daemon):
    cid = _sleeper(daemon, "none")
    c = _conn(daemon)
    t0 = time.perf_counter()
    c.call("GET", f"/containers/{cid}/json")
    return _ms(t0)


def _list(daemon):
    _sleeper(daemon, "none")
    c = _conn(daemon)
    t0 = time.perf_counter()
    c.call("GET", "/containers/json")
    return _ms(t0)


_GOALS = {
    "start": Goal("≤ 0.03× dockerd", max_ratio=0.03),
    "create+start+wait+remove": Goal("≤ 0.05× dockerd", max_ratio=0.05),
    "exec": Goal("≤ 0.10× dockerd", max_ratio=0.10),
}
_DESC = {
    "create": "`POST /containers/create` of `busybox true`",
    "start": "`POST /containers/{id}/start` until its answer",
    "wait": "`POST /containers/{id}/wait` after the start, until `true` has exited",
    "remove": "`DELETE /containers/{id}` of the exited container",
    "create+start+wait+remove": "the four above, end to end",
}

WORKLOADS_START = []
for _net, _label in (("none", "--network none"), ("bridge", "bridge")):
    for _s in ("create", "start", "wait", "remove", "create+start+wait+remove"):
        WORKLOADS_START.append(Workload(
            f"API {_s} ({_label})", "ms", _step(_s, _net), needs_images=True, goal=_GOALS.get(_s),
            decimals=2, description=f"{_DESC[_s]} ({_label})"))
    WORKLOADS_START.append(Workload(
        f"API exec ({_label})", "ms", _exec(_net), needs_images=True, goal=_GOALS["exec"], decimals=2,
        description=f"exec create + start (attached, to EOF) + inspect of `true` in a running container ({_label})"))
WORKLOADS_START += [
    Workload("API inspect", "ms", _inspect, needs_images=True, decimals=2,
             description="`GET /containers/{id}/json` of a running container"),
    Workload("API list", "ms", _list, needs_images=True, decimals=2,
             description="`GET /containers/json` (running containers; the bench's one or two)"),
]
