"""HEALTHCHECK: probes run as execs every interval; the status moves between starting,
healthy and unhealthy as in dockerd, with the last results in State.Health and
health_status events."""
import json
import os
import time

import pytest

from conftest import TESTDATA


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


def health(docker, cid):
    return json.loads(docker.run("inspect", "-f", "{{json .State.Health}}", cid).stdout)


def wait_status(docker, cid, want, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = health(docker, cid)
        if h and h["Status"] == want:
            return h
        time.sleep(0.1)
    raise AssertionError("health of %s never became %s: %s" % (cid, want, health(docker, cid)))


def test_health_goes_healthy_then_unhealthy(docker, images):
    start = time.time()
    cid = docker.run("run", "-d", "--health-cmd", "cat /tmp/ok", "--health-interval", "200ms",
                     "--health-retries", "2", "--health-timeout", "2s", "busybox", "sh", "-c",
                     "sleep 1; echo fine > /tmp/ok; sleep 2; rm /tmp/ok; sleep 300").stdout.strip()
    try:
        assert health(docker, cid)["Status"] == "starting"
        assert "(health: starting)" in docker.run("ps", "--filter", "id=" + cid, "--format", "{{.Status}}").stdout
        h = wait_status(docker, cid, "healthy")
        assert h["FailingStreak"] == 0
        ok = [r for r in h["Log"] if r["ExitCode"] == 0]
        assert ok and ok[-1]["Output"] == "fine\n" and ok[-1]["End"] >= ok[-1]["Start"]
        assert "(healthy)" in docker.run("ps", "--filter", "id=" + cid, "--format", "{{.Status}}").stdout
        h = wait_status(docker, cid, "unhealthy")
        assert h["FailingStreak"] >= 2 and len(h["Log"]) <= 5
        assert "No such file or directory" in h["Log"][-1]["Output"]
        events = docker.run("events", "--since", "%.3f" % (start - 1), "--until", "%.3f" % (time.time() + 1),
                            "--filter", "container=" + cid, "--format", "{{.Action}}").stdout.split("\n")
        assert "health_status: healthy" in events and "health_status: unhealthy" in events
    finally:
        docker.run("rm", "-f", cid)


def test_health_timeout(client, images):
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, healthcheck={
        "test": ["CMD", "sleep", "5"], "interval": 300 * 10**6, "timeout": 200 * 10**6, "retries": 1})
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            c.reload()
            h = c.attrs["State"]["Health"]
            if h["Status"] == "unhealthy":
                break
            time.sleep(0.1)
        assert h["Status"] == "unhealthy"
        assert h["Log"][-1]["ExitCode"] == -1
        assert h["Log"][-1]["Output"] == "Health check exceeded timeout (200ms)"
    finally:
        c.remove(force=True)


def test_failures_in_the_start_period_do_not_count(docker, images):
    cid = docker.run("run", "-d", "--health-cmd", "exit 1", "--health-interval", "200ms", "--health-retries", "1",
                     "--health-start-period", "60s", "--health-start-interval", "200ms", "busybox",
                     "sleep", "300").stdout.strip()
    try:
        time.sleep(1.5)
        h = health(docker, cid)
        assert h["Status"] == "starting" and h["FailingStreak"] == 0 and len(h["Log"]) >= 2
    finally:
        docker.run("rm", "-f", cid)


def test_no_healthcheck_means_no_health(docker, images):
    # Without a check there is no Health at all.
    cid = docker.run("run", "-d", "busybox", "sleep", "300").stdout.strip()
    try:
        assert docker.run("inspect", "-f", "{{json .State.Health}}", cid).stdout.strip() == "null"
    finally:
        docker.run("rm", "-f", cid)
