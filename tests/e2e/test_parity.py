"""API parity with dockerd (issue 13): what the stock CLI and docker-py see where berth used
to differ — kill waiting for the exit, exec stream framing and inspect, attach without a
stream and over a websocket, versioned API shapes, rmi of digest references, pull and load
progress, and the swarm, plugin and search endpoints of a daemon outside a swarm."""
import base64
import json
import os
import socket
import struct
import time

import pytest

from conftest import TESTDATA, docker_env, http_raw, pty_run


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


def inspect(docker, name):
    return json.loads(docker.run("inspect", name).stdout)[0]


# ---- kill ----

def test_kill_returns_once_the_container_has_stopped(docker, images):
    # SIGKILL (the default) returns only once the exit (137) is recorded: kill && rm works
    # and an inspect right after the kill shows it exited.
    for i in range(5):
        name = "killed%d" % i
        docker.run("run", "-d", "--name", name, "busybox", "sleep", "600")
        docker.run("kill", name)
        st = inspect(docker, name)["State"]
        assert st["Status"] == "exited" and st["Running"] is False and st["ExitCode"] == 137, st
        docker.run("rm", name)
    # A container ignoring SIGTERM (sh as pid 1) is still killed and removable at once.
    docker.run("run", "-d", "--name", "killed-sh", "busybox", "sh", "-c", "while true; do sleep 0.1; done")
    p = docker.run("kill", "killed-sh")
    assert p.stdout.strip() == "killed-sh"
    docker.run("rm", "killed-sh")


def test_kill_then_inspect_at_once_dockerpy(client, images):
    # The API at full speed (no CLI start-up between the calls): every time, the kill's
    # answer means the exit is recorded.
    api = client.api
    for _ in range(15):
        cid = api.create_container("busybox", ["sleep", "600"])["Id"]
        api.start(cid)
        api.kill(cid)
        st = api.inspect_container(cid)["State"]
        api.remove_container(cid)  # no force: 409 if still running
        assert st["Status"] == "exited" and st["ExitCode"] == 137, st
