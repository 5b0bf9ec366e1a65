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

FIXTURES = os.environ.get("BERTH_FIXTURES", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures"))
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
    min_value: Optional[float] = None  # a floor on berth's median (throughputs)

    def met(self, berth, dockerd):
        if berth is None:
            return None
        if self.min_value is not None:
            return berth >= self.min_value
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


# ---------------------------------------------------------------------------------------
# workloads of issue 3: docker load / docker save of a 200 MB multi-layer image

BIG_IMAGE = "berth-bench/big:latest"
BIG_LAYERS = (  # (files, bytes per file): about 200 MB of incompressible data in 4 layers
    (80, 1 << 20),
    (2000, 30 << 10),
    (1, 40 << 20),
    (5000, 4 << 10),
)
RSS_SAMPLE_S = 0.005


def make_big_archive(path):
    """A docker-archive (manifest.json, config, <n>/layer.tar) of BIG_IMAGE, written once.

    The bytes come from a fixed seed, so every run loads the same image (same diff IDs)."""
    import hashlib
    import io
    import json
    import random
    import tarfile
    rng = random.Random(20261128)
    tmp = path + ".tmp"
    diff_ids, layer_files = [], []
    for i, (count, size) in enumerate(BIG_LAYERS):
        lpath = f"{path}.layer{i}"
        with tarfile.open(lpath, "w", format=tarfile.PAX_FORMAT) as t:
            d = tarfile.TarInfo(f"data{i}")
            d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 1700000000
            t.addfile(d)
            for k in range(count):
                info = tarfile.TarInfo(f"data{i}/f{k:05d}")
                info.size, info.mode, info.mtime = size, 0o644, 1700000000
                t.addfile(info, io.BytesIO(rng.randbytes(size)))
        h = hashlib.sha256()
        with open(lpath, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        diff_ids.append("sha256:" + h.hexdigest())
        layer_files.append(lpath)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-11-28T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2026-11-28T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(diff_ids))],
    }, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [BIG_IMAGE],
                            "Layers": [f"{i}/layer.tar" for i in range(len(layer_files))]}]).encode()
    with tarfile.open(tmp, "w") as out:
        for i, lpath in enumerate(layer_files):
            out.add(lpath, arcname=f"{i}/layer.tar")
            os.unlink(lpath)
        for name, data in ((config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    os.rename(tmp, path)


def big_archive(daemon):
    path = os.path.join(daemon.env.root, "big-image.tar")
    if not os.path.exists(path):
        make_big_archive(path)
    return path


def _remove_big(daemon):
    docker(daemon, "rmi", "-f", BIG_IMAGE, check=False)


def docker_load_big(daemon):
    """`docker load -i` of the 200 MB archive into a daemon that has none of its layers."""
    path = big_archive(daemon)
    _remove_big(daemon)  # untimed: every round stores the layers anew
    return time_docker(daemon, "load", "-i", path)


def docker_load_big_rss(daemon):
    """Peak RSS of the daemon's process tree during that load, sampled every 5 ms."""
    import threading
    path = big_archive(daemon)
    _remove_big(daemon)
    peak = [daemon.rss_bytes()]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], daemon.rss_bytes())
            time.sleep(RSS_SAMPLE_S)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        docker(daemon, "load", "-i", path)
    finally:
        done.set()
        t.join()
    return peak[0] / (1024.0 * 1024.0)


def docker_save_big(daemon):
    """`docker save -o` of the 200 MB image (loaded first if missing, untimed)."""
    if docker(daemon, "image", "inspect", BIG_IMAGE, check=False).returncode != 0:
        docker(daemon, "load", "-i", big_archive(daemon))
    out = os.path.join(daemon.env.root, f"saved-{daemon.kind}.tar")
    try:
        return time_docker(daemon, "save", "-o", out, BIG_IMAGE)
    finally:
        if os.path.exists(out):
            os.unlink(out)


WORKLOADS += [
    Workload("docker load 200MB", "ms", docker_load_big,
             goal=Goal("≤ 0.70× dockerd", max_ratio=0.70),
             description="`docker load -i` of a 200 MB, 4-layer docker-archive (layers not present)"),
    Workload("docker load 200MB peak RSS", "MB", docker_load_big_rss,
             goal=Goal("≤ 32 MB (flat: streamed)", max_value=32.0),
             description="peak VmRSS of the daemon's process tree during that load"),
    Workload("docker save 200MB", "ms", docker_save_big,
             description="`docker save -o` of the same image"),
]


# workloads of issue 4 (containers) live in their own file
from workloads_run import WORKLOADS_RUN  # noqa: E402

WORKLOADS += WORKLOADS_RUN

# workloads of issue 5 (registry pulls) live in their own file
from workloads_pull import WORKLOADS_PULL  # noqa: E402

WORKLOADS += WORKLOADS_PULL

# workloads of issues 10 and 11 (networks at scale) live in their own file
from workloads_net import WORKLOADS_NET  # noqa: E402

WORKLOADS += WORKLOADS_NET

# workloads of issue 12 (docker build) live in their own file
from workloads_build import WORKLOADS_BUILD  # noqa: E402

WORKLOADS += WORKLOADS_BUILD

# workloads of issue 18 (a container's life, step by step, at the API) live in their own file
from workloads_start import WORKLOADS_START  # noqa: E402

WORKLOADS += WORKLOADS_START

# workloads of issue 13 (API calls timed at the API) live in their own file
from workloads_api import WORKLOADS_API  # noqa: E402

WORKLOADS += WORKLOADS_API

# workloads of issue 15 (plugins) live in their own file
from workloads_plugins import WORKLOADS_PLUGINS  # noqa: E402

WORKLOADS += WORKLOADS_PLUGINS

# workloads of issue 16 (what TLS costs a request) live in their own file
from workloads_tls import WORKLOADS_TLS  # noqa: E402

WORKLOADS += WORKLOADS_TLS

# workloads of issue 16 (--userns-remap) live in their own file
from workloads_userns import WORKLOADS_USERNS  # noqa: E402

WORKLOADS += WORKLOADS_USERNS
