"""Fixtures for berth's load and limit tests (`make load`).

The daemon harness is the end-to-end suite's (tests/e2e/conftest.py: temporary roots, a
bridge and a 10.N.0.0/16 of its own); each module starts its own berthd so the
descriptor and thread counts taken before and after belong to that module's load only.
Every test records its figures with `report(name, **values)`; they are printed at the
end of the run and written to build/load/report.json, from which the README's
reliability section is taken.
"""
import importlib.util
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
_spec = importlib.util.spec_from_file_location("berth_e2e_harness", os.path.join(ROOT, "tests", "e2e", "conftest.py"))
harness = importlib.util.module_from_spec(_spec)
sys.modules["berth_e2e_harness"] = harness
_spec.loader.exec_module(harness)

Berthd = harness.Berthd
DockerCLI = harness.DockerCLI
http_raw = harness.http_raw
ping_ok = harness.ping_ok
BUSYBOX = os.path.join(ROOT, "tests", "fixtures", "busybox-docker-archive.tar")
# LOAD_SCALE=0.1 runs every load at a tenth of its size (the quick version in CI).
SCALE = float(os.environ.get("LOAD_SCALE", "1"))

_figures = {}


def scaled(n, least=1):
    return max(least, int(round(n * SCALE)))


# LOAD_DAEMON=dockerd runs the same load against Debian's dockerd (started as the bench
# starts it: bench/daemons.py, own roots, socket and bridge) for the figures beside
# berth's; the checks that are about berthd's threads and descriptors are skipped.
REFERENCE = os.environ.get("LOAD_DAEMON", "berthd") == "dockerd"


class _Reference:
    """dockerd behind the attributes the tests use (proc.pid, sock, host)."""

    def __init__(self):
        sys.path.insert(0, os.path.join(ROOT, "bench"))
        import daemons
        path = daemons.ensure_dockerd(install=False)
        if not path:
            pytest.skip("LOAD_DAEMON=dockerd but no dockerd is installed")
        self.env = daemons.Env(dockerd=path)
        self.d = daemons.Dockerd(self.env, "load-dockerd", path)
        self.d.start()
        self.proc, self.sock, self.host = self.d.proc, self.d.sock, self.d.host

    def cleanup(self):
        try:
            self.d.remove_containers()
            self.d.stop()
        finally:
            self.env.cleanup()


@pytest.fixture(scope="module")
def berthd():
    d = _Reference() if REFERENCE else Berthd().start()
    try:
        cli = DockerCLI(d.host)
        try:
            cli.run("load", "-i", BUSYBOX, timeout=120)
        finally:
            cli.cleanup()
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="module")
def docker(berthd):
    cli = DockerCLI(berthd.host)
    yield cli
    cli.cleanup()


@pytest.fixture(scope="module")
def client(berthd):
    import docker as dockerpy
    c = dockerpy.DockerClient(base_url=berthd.host, version="auto", timeout=120, max_pool_size=128)
    yield c
    c.close()


@pytest.fixture
def fresh_daemon():
    if REFERENCE:
        pytest.skip("a berthd option")
    made = []

    def make(*extra_args, start=True):
        d = Berthd(extra_args)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    for d in made:
        d.cleanup()


@pytest.fixture(scope="session")
def report():
    def add(name, **values):
        _figures[name] = values
        print("\n[load] %s: %s" % (name, json.dumps(values)))
    return add


def pytest_terminal_summary(terminalreporter):
    if not _figures:
        return
    out = os.path.join(ROOT, "build", "load")
    os.makedirs(out, exist_ok=True)
    name = "report-dockerd.json" if REFERENCE else "report.json"
    with open(os.path.join(out, name), "w") as f:
        json.dump({"scale": SCALE, "daemon": "dockerd" if REFERENCE else "berthd", "figures": _figures}, f,
                  indent=1, sort_keys=True)
    terminalreporter.section("load figures of %s (scale %g, build/load/%s)" % (
        "dockerd" if REFERENCE else "berthd", SCALE, name))
    for name, values in _figures.items():
        terminalreporter.write_line("%-34s %s" % (name, "  ".join("%s=%s" % kv for kv in values.items())))
