"""Measuring helpers for the load tests: a process's descriptors, threads and memory, and
latency percentiles."""
import os
import socket
import time


def proc_counts(pid):
    """(descriptors, threads, RSS in KiB) of process @pid."""
    fds = len(os.listdir("/proc/%d/fd" % pid))
    threads = len(os.listdir("/proc/%d/task" % pid))
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return fds, threads, rss


def settle(pid, fds0, threads0, timeout=20.0):
    """Wait (up to @timeout) for @pid's descriptor and thread counts to fall back to at
    most the given ones (connection threads end a moment after their client leaves);
    return the last counts."""
    deadline = time.time() + timeout
    while True:
        fds, threads, rss = proc_counts(pid)
        if (fds <= fds0 and threads <= threads0) or time.time() > deadline:
            return fds, threads, rss
        time.sleep(0.2)


def percentile(values, p):
    """Nearest-rank percentile of @values (p in 0..100)."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def ms(seconds):
    return round(seconds * 1000.0, 1)


def latency_summary(seconds):
    return {"n": len(seconds), "p50_ms": ms(percentile(seconds, 50)), "p99_ms": ms(percentile(seconds, 99)),
            "max_ms": ms(max(seconds))}


def request(sock_path, raw, timeout=5.0):
    """Send one HTTP/1.1 request (Connection: close) and read the whole answer; return
    (seconds, answer bytes)."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(raw)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return time.monotonic() - t0, out


PING = b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"


def ping_latencies(sock_path, n, pause=0.005):
    """@n pings, each on a new connection as the CLI makes them; their latencies in
    seconds. A ping that fails or does not answer 200 raises."""
    out = []
    for _ in range(n):
        dt, resp = request(sock_path, PING)
        assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
        out.append(dt)
        time.sleep(pause)
    return out
