"""Namespace modes a user sets on the command line: --uts host, and the daemon's
default-ipc-mode (private or shareable) that decides whether --ipc container:<x> may join."""
import json
import os
import socket

import pytest

from conftest import TESTDATA, DockerCLI


def load(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


@pytest.fixture(scope="module")
def images(docker):
    load(docker)
    yield
    for c in docker.run("ps", "-aq").stdout.split():
        docker.run("rm", "-f", c, check=False)


def ipc_mode(docker, name):
    return json.loads(docker.run("inspect", name).stdout)[0]["HostConfig"]["IpcMode"]


def test_uts_host_sees_the_hosts_name(docker, images):
    p = docker.run("run", "--rm", "--uts", "host", "busybox", "hostname")
    assert p.stdout.strip() == socket.gethostname()
    p = docker.run("run", "--rm", "busybox", "hostname")
    assert p.stdout.strip() != socket.gethostname()


def test_default_ipc_mode_private_refuses_to_share(docker, images):
    docker.run("run", "-d", "--name", "ipc-donor", "busybox", "sleep", "600")
    try:
        assert ipc_mode(docker, "ipc-donor") == "private"  # what dockerd records by default
        p = docker.run("run", "--rm", "--ipc", "container:ipc-donor", "busybox", "true", check=False)
        assert p.returncode != 0 and "non-shareable IPC" in p.stderr
    finally:
        docker.run("rm", "-f", "ipc-donor")


def test_default_ipc_mode_shareable_lets_others_join(fresh_daemon):
    d = fresh_daemon("--default-ipc-mode", "shareable")
    docker = DockerCLI(d.host)
    try:
        load(docker)
        docker.run("run", "-d", "--name", "donor", "busybox", "sleep", "600")
        assert ipc_mode(docker, "donor") == "shareable"
        own = docker.run("exec", "donor", "readlink", "/proc/self/ns/ipc").stdout.strip()
        p = docker.run("run", "--rm", "--ipc", "container:donor", "busybox", "readlink", "/proc/self/ns/ipc")
        assert p.stdout.strip() == own
        # An explicit mode wins over the daemon's default.
        docker.run("create", "--name", "priv", "--ipc", "private", "busybox", "true")
        assert ipc_mode(docker, "priv") == "private"
        docker.run("rm", "-f", "donor", "priv")
    finally:
        docker.cleanup()
