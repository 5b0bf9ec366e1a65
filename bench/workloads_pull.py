"""Workloads of issue 5: `docker pull` from a local registry (Debian's docker-registry on
127.0.0.1, started once per bench run and serving the reference engine's registry storage
plus a ~200 MB, 5-layer image uploaded through the registry API). Every round removes the
image first (untimed), so each pull downloads and extracts every layer."""

import atexit
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.request

from workloads import FIXTURES, Goal, Workload, docker, time_docker

REGISTRY_BIN = "/usr/bin/docker-registry"
PULL_BIG_LAYERS = ((40, 1 << 20), (1000, 40 << 10), (1, 40 << 20), (4000, 8 << 10), (200, 100 << 10))
_registry = {}


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _http(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=300) as r:
        return r.status, dict(r.headers), r.read()


def _put_blob(base, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        _http("HEAD", f"{base}/v2/{repo}/blobs/{digest}")
        return digest
    except urllib.error.HTTPError:
        pass
    _, h, _ = _http("POST", f"{base}/v2/{repo}/blobs/uploads/")
    loc = h["Location"]
    if loc.startswith("/"):
        loc = base + loc
    _http("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + digest, data=data,
          headers={"Content-Type": "application/octet-stream"})
    return digest


def _upload_big(base):
    """A ~200 MB image of 5 gzip layers (incompressible data, fixed seed) as big:latest."""
    rng = random.Random(20261129)
    layers, diff_ids = [], []
    for i, (count, size) in enumerate(PULL_BIG_LAYERS):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
            d = tarfile.TarInfo(f"pull{i}")
            d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 1700000000
            t.addfile(d)
            for k in range(count):
                info = tarfile.TarInfo(f"pull{i}/f{k:05d}")
                info.size, info.mode, info.mtime = size, 0o644, 1700000000
                t.addfile(info, io.BytesIO(rng.randbytes(size)))
        tar = raw.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        layers.append(gzip.compress(tar, compresslevel=1, mtime=0))
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-11-29T00:00:00Z",
                         "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids}},
                        separators=(",", ":")).encode()
    m = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                    "digest": _put_blob(base, "big", config)},
         "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(l),
                     "digest": _put_blob(base, "big", l)} for l in layers]}
    _http("PUT", f"{base}/v2/big/manifests/latest", data=json.dumps(m, indent=3).encode(),
          headers={"Content-Type": m["mediaType"]})


def registry(daemon):
    """host:port of the bench's registry, started (and filled) on first use."""
    if "host" in _registry:
        return _registry["host"]
    root = os.path.join(daemon.env.root, "pull-registry")
    storage = os.path.join(root, "storage")
    fresh = not os.path.isdir(storage)
    os.makedirs(storage, exist_ok=True)
    if fresh:
        with tarfile.open(os.path.join(FIXTURES, "registry", "peer-registry-storage.tar")) as t:
            t.extractall(storage)
    port = _free_port()
    cfg = os.path.join(root, "config.yml")
    with open(cfg, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
                f"http:\n  addr: 127.0.0.1:{port}\n")
    log = open(os.path.join(root, "registry.log"), "ab")
    proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=log, stderr=subprocess.STDOUT)
    atexit.register(lambda: (proc.terminate(), proc.wait()))
    deadline = time.time() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("docker-registry did not start")
            time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        _http("HEAD", f"{base}/v2/big/manifests/latest",
              headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    except urllib.error.HTTPError:
        _upload_big(base)
    _registry["host"] = f"127.0.0.1:{port}"
    return _registry["host"]


def _remove(daemon, ref):
    """Remove the image @ref names with every reference to it (by ID: a RepoDigest left
    behind would keep its layers)."""
    r = docker(daemon, "image", "inspect", "--format", "{{.Id}}", ref, check=False, capture=True)
    if r.returncode == 0 and r.stdout.strip():
        docker(daemon, "rmi", "-f", r.stdout.strip(), check=False)


def _cold_pull(daemon, repo):
    ref = f"{registry(daemon)}/{repo}"
    _remove(daemon, ref)  # untimed: every round downloads every layer
    if repo == "layered":
        _remove(daemon, f"{registry(daemon)}/busybox")  # shares the base layer
    return ref


def pull(repo):
    def fn(daemon):
        ref = _cold_pull(daemon, repo)
        return time_docker(daemon, "pull", "-q", ref)
    fn.__name__ = "pull_" + repo
    return fn


def pull_big_rss(daemon):
    """Peak RSS of the daemon's process tree during the 200 MB pull, sampled every 5 ms."""
    ref = _cold_pull(daemon, "big")
    peak = [daemon.rss_bytes()]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], daemon.rss_bytes())
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        docker(daemon, "pull", "-q", ref)
    finally:
        done.set()
        t.join()
    return peak[0] / (1024.0 * 1024.0)


WORKLOADS_PULL = [
    Workload("docker pull busybox", "ms", pull("busybox"),
             description="cold `docker pull` of the 1 MB busybox from a local registry (dockerd ≈ 230 ms)"),
    Workload("docker pull layered", "ms", pull("layered"),
             description="cold `docker pull` of the 3-layer `layered` image (dockerd ≈ 470 ms)"),
    Workload("docker pull 200MB", "ms", pull("big"),
             goal=Goal("≤ 0.60× dockerd", max_ratio=0.60),
             description="cold `docker pull` of a ~200 MB, 5-layer image from a local registry"),
    Workload("docker pull 200MB peak RSS", "MB", pull_big_rss,
             description="peak VmRSS of the daemon's process tree during that pull (flat: streamed)"),
]
