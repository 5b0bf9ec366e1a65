"""Many containers at once: 100 concurrent `docker run --rm` and 1,000 containers created
then listed. No request fails, berthd ends with the descriptors and threads it started
with, and the latencies are reported."""
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import REFERENCE, report, scaled  # noqa: F401 (fixtures)
from loadlib import latency_summary, proc_counts, settle


def new_client(berthd, pool):
    """A docker-py client of the test's own: its kept-alive connections (each a thread and
    a descriptor in berthd) end when it is closed, before the counts are taken again."""
    import docker as dockerpy
    return dockerpy.DockerClient(base_url=berthd.host, version="auto", timeout=120, max_pool_size=pool)


def warm(berthd):
    """One run first, so the baseline counts hold what berthd keeps between runs on
    purpose (a spare shim and network namespace made ahead of the next start, the
    nftables context it closes after 2 s idle), not only what leaks."""
    c = new_client(berthd, 1)
    c.containers.run("busybox", ["true"], remove=True)
    c.close()
    time.sleep(3)


def timed(fn, *a, **kw):
    t0 = time.monotonic()
    r = fn(*a, **kw)
    return time.monotonic() - t0, r


def test_hundred_concurrent_run_rm(berthd, report):
    n = scaled(100, 4)
    pid = berthd.proc.pid
    warm(berthd)
    fds0, threads0, rss0 = settle(pid, 0, 0, timeout=0)
    client = new_client(berthd, n)

    def one(i):
        return timed(client.containers.run, "busybox", ["sh", "-c", "echo run-%d" % i], remove=True)

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.monotonic() - t0
    for i, (_, out) in enumerate(results):
        assert out == b"run-%d\n" % i
    assert client.containers.list(all=True) == []
    client.close()
    fds1, threads1, rss1 = settle(pid, fds0, threads0)
    report("run_rm_concurrent", containers=n, wall_s=round(wall, 1), **latency_summary([r[0] for r in results]),
           fds_before=fds0, fds_after=fds1, threads_before=threads0, threads_after=threads1,
           rss_before_kib=rss0, rss_after_kib=rss1)
    if not REFERENCE:
        assert fds1 <= fds0, "berthd holds %d descriptors after the runs, %d before" % (fds1, fds0)
        assert threads1 <= threads0, "berthd has %d threads after the runs, %d before" % (threads1, threads0)


def test_thousand_created_then_listed(berthd, report):
    n = scaled(1000, 10)
    pid = berthd.proc.pid
    warm(berthd)
    fds0, threads0, rss0 = settle(pid, 0, 0, timeout=0)
    client = new_client(berthd, 16)
    created = []
    try:
        def create(i):
            return timed(client.api.create_container, "busybox", ["true"], name="load-%d" % i)

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(create, range(n)))
        created = [r[1]["Id"] for r in results]
        list_times = []
        for _ in range(5):
            dt, listed = timed(client.api.containers, all=True)
            list_times.append(dt)
            assert sorted(c["Id"] for c in listed) == sorted(created)
        dt_inspect, _ = timed(client.api.inspect_container, created[n // 2])
        _, _, rss_full = proc_counts(pid)

        def remove(cid):
            return timed(client.api.remove_container, cid)

        with ThreadPoolExecutor(max_workers=16) as pool:
            removed = list(pool.map(remove, created))
        created = []
        assert client.api.containers(all=True) == []
    finally:
        for cid in created:
            client.api.remove_container(cid, force=True)
        client.close()
    fds1, threads1, rss1 = settle(pid, fds0, threads0)
    report("create_list_rm", containers=n, create=latency_summary([r[0] for r in results]),
           list_all_ms=latency_summary(list_times), inspect_ms=round(dt_inspect * 1000, 1),
           remove=latency_summary([r[0] for r in removed]), fds_before=fds0, fds_after=fds1,
           threads_before=threads0, threads_after=threads1, rss_before_kib=rss0, rss_with_all_kib=rss_full,
           rss_after_kib=rss1)
    if not REFERENCE:
        assert fds1 <= fds0, "berthd holds %d descriptors after, %d before" % (fds1, fds0)
        assert threads1 <= threads0, "berthd has %d threads after, %d before" % (threads1, threads0)
