"""Workloads of issue 15 (plugins). Imported at the end of workloads.py.

"authz plugin on docker ps": what an authorization plugin in the path adds to the two
API calls `docker ps` makes (HEAD /_ping, GET /containers/json), timed at the API on two
fresh berthds, one with --authorization-plugin, the other without. The plugin is the
tests' fake_plugin.py (Python, allowing everything) on a unix socket in the daemon's
EXEC-ROOT/plugins; each call passes it twice (AuthZReq, AuthZRes), so four plugin calls
are in the difference, most of it the Python plugin's own time.
"""
import os
import socket
import statistics
import subprocess
import sys
import time

from workloads import Goal, Workload

ROUNDS = 200
FAKE_PLUGIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "e2e", "plugins",
                           "fake_plugin.py")


def _get(sock_path, method, path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sock_path)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{method} {path}: {data[:200]!r}")


def _ps_ms(d):
    times = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        _get(d.sock, "HEAD", "/_ping")
        _get(d.sock, "GET", "/v1.45/containers/json")
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def authz_ps(daemon):
    plain = daemon.fresh("ps-plain")
    guarded = daemon.fresh("ps-authz")
    plugdir = os.path.join(guarded.dir, "exec", "plugins")
    os.makedirs(plugdir, exist_ok=True)
    plugin = subprocess.Popen([sys.executable, FAKE_PLUGIN, os.path.join(plugdir, "benchauthz.sock"), os.devnull,
                               "--implements", "authz"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        if plugin.stdout.readline().strip() != b"ready":
            raise RuntimeError("the authorization plugin did not start")
        guarded.extra.append(plugin)
        base_argv = guarded.argv
        guarded.argv = lambda: base_argv() + ["--authorization-plugin", "benchauthz"]
        plain.start()
        guarded.start()
        return _ps_ms(guarded) - _ps_ms(plain)
    finally:
        plain.discard()
        guarded.discard()
        if plugin.poll() is None:
            plugin.terminate()
            plugin.wait()


WORKLOADS_PLUGINS = [
    Workload("authz plugin on docker ps", "ms", authz_ps, daemons=("berth",),
             goal=Goal("an authorization plugin adds ≤ 2 ms to docker ps", max_value=2.0),
             description="median HEAD /_ping + GET /containers/json with an authorization plugin minus without",
             decimals=2),
]
