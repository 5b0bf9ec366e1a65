"""Many connections at once: clients that hold connections open (idle, or sending their
headers slowly) do not lock others out, and a client past the limit is told so."""
import contextlib
import json
import os
import resource
import socket

from conftest import DockerCLI, TESTDATA, http_raw, ping_ok


@contextlib.contextmanager
def held_connections(sock_path, n, partial_every=0):
    """Open @n connections and keep them; every @partial_every-th one has sent the start
    of a request (a slow-header client) instead of nothing."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
    socks = []
    try:
        for i in range(n):
            s = socket.socket(socket.AF_UNIX)
            socks.append(s)
            s.connect(sock_path)
            if partial_every and i % partial_every == 0:
                s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n")
        yield socks
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_two_thousand_held_connections_do_not_lock_out_ping(berthd):
    # libmicrohttpd's default limit (FD_SETSIZE - 4) closed every connection past 1,020.
    with held_connections(berthd.sock, 2000, partial_every=2):
        # A generous timeout: the daemon may still be starting threads for the backlog (a
        # lockout shows at once as a closed connection, not as a slow answer).
        r = http_raw(berthd.sock, b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n", timeout=20)
        assert r.startswith(b"HTTP/1.1 200"), r
        r = http_raw(berthd.sock, b"GET /v1.45/version HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
                     timeout=20)
        assert r.startswith(b"HTTP/1.1 200"), r
    assert ping_ok(berthd.sock)


def nofile_limits(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)


def test_over_limit_clients_get_503_and_containers_keep_the_nofile_limit(fresh_daemon):
    d = fresh_daemon(start=False)
    # A small descriptor limit makes a small connection limit: (400 - 256) / 2 = 72.
    d.args = ["prlimit", "--nofile=300:400", "--"] + d.args
    d.start()
    assert nofile_limits(d.proc.pid) == (400, 400)  # soft raised to hard at start
    with held_connections(d.sock, 80):  # past 72, within what it accepts to answer 503
        r = http_raw(d.sock, b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        assert r.startswith(b"HTTP/1.1 503 "), r
        head, _, body = r.partition(b"\r\n\r\n")
        assert b"Connection: close" in head
        assert json.loads(body)["message"].startswith("too many connections")
    deadline_ok = any(ping_ok(d.sock) for _ in range(50))
    assert deadline_ok
    # Containers keep the limit berthd was started with, not the raised one.
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        out = cli.run("run", "--rm", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn").stdout.split()
        assert out == ["300", "400"]
    finally:
        cli.cleanup()
