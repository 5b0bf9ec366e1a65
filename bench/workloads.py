"""The benchmark's workloads: one table, WORKLOADS, that later issues extend.

A workload is a function `fn(daemon) -> float` that measures one thing against one daemon
(a daemons.Daemon: .host is its DOCKER_HOST, .kind is "berth" or "dockerd") and returns
the value in the workload's unit. bench.py calls it once per round per daemon, alternating
the daemons, and reports medians. Raise an exception to mark a round as failed.

The daemon handed in is the long-running instance for that kind, started once for the
whole run (images loaded into it when a selected workload has needs_images=True). A
workload that needs a daemon of its own (start-up timing, memory of a fresh daemon) asks
for one with `daemon.fresh("purpose")` and calls `.start()` / `.discard()` itself.

Adding a workload: write the function, append a Workload(...) to WORKLOADS. See README.md.
"""

import os
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Optional

FIXTURES = os.environ.get("BERTH_FIXTURES", "/work/shared/fixtures")
BUSYBOX_ARCHIVE = os.path.join(FIXTURES, "busybox-docker-archive.tar")
IDLE_SETTLE_S = 1.0     # how long a fresh daemon idles before its RSS is read
CLI_TIMEOUT_S = 120


@dataclass
class Goal:
    """A target from the issues. Either an absolute bound on berth's median (max_value,
    in the workload's unit) or a bound on the berth/dockerd ratio (max_ratio)."""
    text: str
    max_value: Optional[float] = None
    max_ratio: Optional[float] = None

    def met(self, berth, dockerd):
        if berth is None:
            return None
        if self.max_value is not None:
            return berth <= self.max_value
        if self.max_ratio is not None:
            if dockerd is None or dockerd == 0:
                return None
            return berth / dockerd <= self.max_ratio
        return None


@dataclass
class Workload:
    name: str
    unit: str                               # "ms", "MB", ... (printed after the medians)
    fn: Callable                            # fn(daemon) -> float, in `unit`
    daemons: tuple = ("berth", "dockerd")   # which daemons it applies to
    goal: Optional[Goal] = None
    needs_images: bool = False              # load_images() into the shared daemons first
    description: str = ""
    decimals: int = 1


# ---------------------------------------------------------------------------------------
# helpers for workloads


class CommandFailed(Exception):
    pass


def docker(daemon, *args, check=True, timeout=CLI_TIMEOUT_S, capture=False):
    """Run the docker CLI against daemon. Returns the CompletedProcess."""
    cli = daemon.env.docker_cli
    r = subprocess.run([cli, *args], env=daemon.env.cli_env(daemon.host),
                       stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=timeout, text=True)
    if check and r.returncode != 0:
        raise CommandFailed(f"docker {' '.join(args)} exited {r.returncode}: "
                            f"{r.stderr.strip()[-500:]}")
    return r


def time_docker(daemon, *args):
    """Wall time of one `docker ARGS...` against daemon, in ms (fails on non-zero exit)."""
    t0 = time.perf_counter()
    docker(daemon, *args)
    return (time.perf_counter() - t0) * 1000.0


def load_images(daemon):
    """Load the test images into a daemon with `docker load -i`, as a user would.

    Called once per shared daemon before any workload with needs_images=True. Failures are
    reported and tolerated for berth (which does not implement image load yet); for dockerd
    they are errors. Returns True when the images are in.
    """
    archives = [BUSYBOX_ARCHIVE]
    ok = True
    for path in archives:
        try:
            docker(daemon, "load", "-i", path)
        except Exception as e:
            ok = False
            if daemon.kind == "dockerd":
                raise
            print(f"bench: load_images({daemon.kind}): {path}: {e}", flush=True)
    return ok


# ---------------------------------------------------------------------------------------
# workloads of issue 2


def startup_to_ping(daemon):
    """exec of the daemon binary to the first 200 from GET /_ping (polled every 1 ms)."""
    d = daemon.fresh("startup")
    try:
        return d.start() * 1000.0
    finally:
        d.discard()


def idle_rss(daemon):
    """RSS (sum of VmRSS over the daemon's process tree, e.g. dockerd + containerd) of a
    freshly started daemon after one `docker version` and IDLE_SETTLE_S of idling."""
    d = daemon.fresh("rss")
    try:
        d.start()
        docker(d, "version")
        time.sleep(IDLE_SETTLE_S)
        return d.rss_bytes() / (1024.0 * 1024.0)
    finally:
        d.discard()


def cli(*args):
    def fn(daemon):
        return time_docker(daemon, *args)
    fn.__name__ = "docker_" + "_".join(args)
    return fn


WORKLOADS = [
    Workload("startup-to-ping", "ms", startup_to_ping,
             goal=Goal("≤ 30 ms", max_value=30.0),
             description="exec of the daemon to the first 200 from GET /_ping"),
    Workload("idle-rss", "MB", idle_rss,
             goal=Goal("≤ 8 MB", max_value=8.0),
             description="VmRSS of the daemon's process tree, idle after `docker version`"),
    Workload("docker version", "ms", cli("version"),
             goal=Goal("≤ 1.10× dockerd", max_ratio=1.10),
             description="wall time of `docker version`"),
    Workload("docker info", "ms", cli("info"),
             description="wall time of `docker info`"),
]
