"""Workloads of issue 12: docker build with the classic builder. Imported at the end of
workloads.py. The CLI runs with DOCKER_BUILDKIT=0 against both daemons."""
import os
import subprocess
import threading
import time

from workloads import CLI_TIMEOUT_S, CommandFailed, Goal, Workload, docker

BUILD_FILES = 2000
BIG_CONTEXT_BYTES = 200 << 20
RSS_SAMPLE_S = 0.005

# 12 instructions on busybox: a COPY of 2,000 small files, four RUN steps, metadata steps.
DOCKERFILE = """FROM busybox
LABEL org.example.bench=build
ENV APP=/app MODE=bench
WORKDIR /app
COPY files/ /app/files/
RUN ls /app/files | wc -l > /count
RUN echo two > /two
RUN echo three > /three
RUN echo four > /four
EXPOSE 8080
USER nobody
CMD ["sh"]
"""


def _context(daemon):
    d = os.path.join(daemon.env.root, "build-context")
    if not os.path.exists(os.path.join(d, "Dockerfile")):
        os.makedirs(os.path.join(d, "files"), exist_ok=True)
        for i in range(BUILD_FILES):
            with open(os.path.join(d, "files", "f%04d.txt" % i), "w") as f:
                f.write("file %d\n" % i)
        with open(os.path.join(d, "Dockerfile"), "w") as f:
            f.write(DOCKERFILE)
    return d


def _big_context(daemon):
    d = os.path.join(daemon.env.root, "build-context-big")
    if not os.path.exists(os.path.join(d, "Dockerfile")):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "blob"), "wb") as f:
            left = BIG_CONTEXT_BYTES
            while left:
                n = min(left, 1 << 20)
                f.write(os.urandom(n))
                left -= n
        with open(os.path.join(d, "Dockerfile"), "w") as f:
            f.write("FROM busybox\nCOPY blob /blob\n")
    return d


def _build(daemon, ctx, *args):
    env = daemon.env.cli_env(daemon.host)
    env["DOCKER_BUILDKIT"] = "0"
    t0 = time.perf_counter()
    r = subprocess.run([daemon.env.docker_cli, "build", "-q", *args, ctx], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=CLI_TIMEOUT_S)
    if r.returncode != 0:
        raise CommandFailed("docker build exited %d: %s" % (r.returncode, r.stderr.strip()[-500:]))
    return (time.perf_counter() - t0) * 1000.0


def build_cold(daemon):
    """The 12-instruction build with --no-cache."""
    return _build(daemon, _context(daemon), "--no-cache", "-t", "berth-bench/build:cold")


def build_cached(daemon):
    """The same build again: every step from the cache (one untimed build first)."""
    ctx = _context(daemon)
    _build(daemon, ctx, "-t", "berth-bench/build:cached")
    return _build(daemon, ctx, "-t", "berth-bench/build:cached")


def build_big_context_rss(daemon):
    """Peak RSS of the daemon's process tree while a 200 MB context is sent and built."""
    ctx = _big_context(daemon)
    peak = [daemon.rss_bytes()]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], daemon.rss_bytes())
            time.sleep(RSS_SAMPLE_S)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        _build(daemon, ctx, "--no-cache", "-t", "berth-bench/build:big")
    finally:
        done.set()
        t.join()
        docker(daemon, "rmi", "berth-bench/build:big", check=False)
    return peak[0] / (1024.0 * 1024.0)


WORKLOADS_BUILD = [
    Workload("docker build 12 steps cold", "ms", build_cold, needs_images=True,
             goal=Goal("≤ 0.40× dockerd", max_ratio=0.40),
             description="DOCKER_BUILDKIT=0 docker build --no-cache: COPY of 2,000 files, 4 RUN, metadata steps"),
    Workload("docker build 12 steps cached", "ms", build_cached, needs_images=True,
             goal=Goal("≤ 0.20× dockerd", max_ratio=0.20),
             description="the same build with every step from the cache"),
    Workload("docker build 200MB context peak RSS", "MB", build_big_context_rss, needs_images=True,
             goal=Goal("≤ 32 MB (flat: streamed)", max_value=32.0),
             description="peak VmRSS of the daemon's process tree while a 200 MB context is built"),
]
