"""2,000 connections held open at once, idle or streaming (events, logs -f, attach, wait):
berthd keeps answering `_ping` quickly, the memory each one costs is reported, and past
the configured limit a new connection is told 503 rather than left to exhaust threads or
descriptors."""
import contextlib
import json
import resource
import socket
import time

from conftest import REFERENCE, DockerCLI, report, scaled  # noqa: F401 (fixtures)
from loadlib import PING, latency_summary, ping_latencies, proc_counts, request, settle

V = "/v1.41"  # the newest dockerd 20.10 (LOAD_DAEMON=dockerd) speaks; berth serves 1.24 to 1.45


def stream_requests(cid):
    """One request of each kind that stays open while the container runs."""
    return {
        "events": b"GET %s/events HTTP/1.1\r\nHost: d\r\n\r\n" % V.encode(),
        "logs": b"GET %s/containers/%s/logs?follow=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n\r\n" % (
            V.encode(), cid.encode()),
        "attach": b"POST %s/containers/%s/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n"
                  b"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n" % (V.encode(), cid.encode()),
        "wait": b"POST %s/containers/%s/wait HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n" % (
            V.encode(), cid.encode()),
        "idle": b"",
    }


@contextlib.contextmanager
def nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.contextmanager
def held(sock_path, requests, n):
    """@n connections, cycling through @requests (kind -> bytes), each sent and left open."""
    kinds = list(requests)
    socks = []
    try:
        for i in range(n):
            s = socket.socket(socket.AF_UNIX)
            socks.append(s)
            s.connect(sock_path)
            if requests[kinds[i % len(kinds)]]:
                s.sendall(requests[kinds[i % len(kinds)]])
        yield socks
    finally:
        for s in socks:
            s.close()


def wait_threads(pid, at_least, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        fds, threads, rss = proc_counts(pid)
        if threads >= at_least:
            return fds, threads, rss
        time.sleep(0.2)
    return proc_counts(pid)


def first_line(s, timeout=10):
    s.settimeout(timeout)
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def test_two_thousand_streaming_connections(berthd, report):
    n = scaled(2000, 40)
    cli = DockerCLI(berthd.host)
    cid = cli.run("run", "-d", "busybox", "sh", "-c", "echo ready; sleep 3600").stdout.strip()
    try:
        pid = berthd.proc.pid
        for _ in range(20):
            request(berthd.sock, PING)
        base = ping_latencies(berthd.sock, 200, pause=0.002)
        fds0, threads0, rss0 = settle(pid, 0, 0, timeout=0)
        with nofile(n + 1024):
            with held(berthd.sock, stream_requests(cid), n) as socks:
                if REFERENCE:  # goroutines, not threads: wait for the descriptors instead
                    deadline = time.time() + 60
                    while proc_counts(pid)[0] < n and time.time() < deadline:
                        time.sleep(0.2)
                    time.sleep(1)
                    fds1, threads1, rss1 = proc_counts(pid)
                else:
                    fds1, threads1, rss1 = wait_threads(pid, n)
                # Every streaming connection is being served: each kind answered its headers.
                status = [first_line(s) for s in socks[:4]]
                assert status[0].startswith(b"HTTP/1.1 200"), status  # events
                assert status[1].startswith(b"HTTP/1.1 200"), status  # logs -f
                assert status[2].startswith(b"HTTP/1.1 101"), status  # attach
                # wait answers its headers at once or only at the exit; either way the
                # connection must still be open (checked by the count of threads)
                lat = ping_latencies(berthd.sock, 500, pause=0.002)
                t0 = time.monotonic()
                _, ps = request(berthd.sock, b"GET %s/containers/json HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
                                % V.encode())
                ps_ms = (time.monotonic() - t0) * 1000
                assert ps.startswith(b"HTTP/1.1 200")
        fds2, threads2, rss2 = settle(pid, fds0, threads0, timeout=10 if REFERENCE else 60)
    finally:
        cli.run("rm", "-f", cid)
        cli.cleanup()
    held_lat = latency_summary(lat)
    report("connections_held", connections=n, kinds="events,logs -f,attach,wait,idle",
           ping_idle=latency_summary(base), ping_held=held_lat, ps_held_ms=round(ps_ms, 1),
           fds_before=fds0, fds_held=fds1, fds_after=fds2, threads_before=threads0, threads_held=threads1,
           threads_after=threads2, rss_before_kib=rss0, rss_held_kib=rss1, rss_after_kib=rss2,
           rss_per_connection_kib=round((rss1 - rss0) / n, 1))
    if REFERENCE:
        return
    assert threads1 >= n, "only %d threads for %d connections" % (threads1, n)  # thread per connection
    assert held_lat["p99_ms"] <= 20, "_ping p99 %.1f ms with %d connections held" % (held_lat["p99_ms"], n)
    assert fds2 <= fds0 and threads2 <= threads0, (fds0, fds2, threads0, threads2)


def test_past_the_limit_503(fresh_daemon, report):
    limit = 100
    d = fresh_daemon("--max-connections", str(limit))
    pid = d.proc.pid
    fds0, threads0, _ = settle(pid, 0, 0, timeout=0)
    events = {"events": b"GET %s/events HTTP/1.1\r\nHost: d\r\n\r\n" % V.encode()}
    with held(d.sock, events, limit):
        wait_threads(pid, threads0 + limit)
        # Past the limit: answered at once, 503, with dockerd's error body and a close.
        answers = []
        for _ in range(3 * limit):  # more than the overflow share: the extra ones are closed
            try:
                answers.append(request(d.sock, PING, timeout=5))
            except OSError as e:
                answers.append((0, repr(e).encode()))
        fds1, threads1, _ = proc_counts(pid)
        r = answers[0][1]
        head, _, body = r.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 "), r
        assert b"Connection: close" in head
        assert json.loads(body)["message"] == (
            "too many connections: the daemon serves at most %d at once, try again later" % limit)
        assert all(a[1].startswith(b"HTTP/1.1 503 ") for a in answers), [a[1][:40] for a in answers if
                                                                      not a[1].startswith(b"HTTP/1.1 503 ")][:3]
        # The limit bounds what berthd spends: no thread or descriptor per refused client.
        assert threads1 <= threads0 + limit + limit // 2 + 2
        assert fds1 <= fds0 + limit + limit // 2 + 2
    fds2, threads2, _ = settle(pid, fds0, threads0)
    assert request(d.sock, PING)[1].startswith(b"HTTP/1.1 200")
    report("connection_limit", limit=limit, refused=len(answers),
           refused_p99=latency_summary([a[0] for a in answers]), threads_at_limit=threads1, fds_at_limit=fds1)
    assert fds2 <= fds0 and threads2 <= threads0
