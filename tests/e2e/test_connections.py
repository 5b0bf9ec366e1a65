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
    # 2,000 threads wind down after their clients go (slowly under the sanitizers): the
    # daemon answers again within seconds, not at once
    import time
    deadline = time.time() + 20
    while not ping_ok(berthd.sock) and time.time() < deadline:
        time.sleep(0.2)
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


def _threads_fds(pid):
    return len(os.listdir("/proc/%d/task" % pid)), len(os.listdir("/proc/%d/fd" % pid))


def _settled_threads_fds(pid, timeout=10):
    """The counts once berthd's short-lived helper threads (spare shim and namespace
    makers, the nftables context closer) have come and gone: the same for a second."""
    import time
    last, same, deadline = None, 0, time.time() + timeout
    while time.time() < deadline:
        cur = _threads_fds(pid)
        same = same + 1 if cur == last else 0
        if same >= 4:
            break
        last = cur
        time.sleep(0.25)
    return _threads_fds(pid)


def test_attach_client_that_hangs_up_is_let_go(fresh_daemon):
    # An attach with no stdin to a quiet container used to hold its thread and two
    # descriptors until the container printed something or exited.
    import time
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cid = cli.run("run", "-d", "busybox", "sleep", "300").stdout.strip()
        assert ping_ok(d.sock)
        threads0, fds0 = _settled_threads_fds(d.proc.pid)
        req = ("POST /v1.45/containers/%s/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n"
               "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n" % cid).encode()
        socks = []
        for _ in range(20):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(d.sock)
            s.sendall(req)
            assert s.recv(4096).startswith(b"HTTP/1.1 101 ")
            socks.append(s)
        assert _threads_fds(d.proc.pid)[0] >= threads0 + 20
        for s in socks:
            s.close()
        deadline = time.time() + 5
        while time.time() < deadline:
            threads1, fds1 = _threads_fds(d.proc.pid)
            if threads1 <= threads0 and fds1 <= fds0:
                break
            time.sleep(0.1)
        threads1, fds1 = _threads_fds(d.proc.pid)
        assert threads1 <= threads0 and fds1 <= fds0, (threads0, fds0, threads1, fds1)
        # The container goes on, and a new attach still gets its output.
        assert cli.run("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() == "true"
        cli.run("rm", "-f", cid)
    finally:
        cli.cleanup()
