"""docker-compose (Debian's, v1, driving the API through docker-py) against berthd: a
project with two services on its own network, one publishing a port on 127.0.0.1 and
the other reaching it by its service name."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import TESTDATA, docker_env
from registry import free_port

COMPOSE = shutil.which("docker-compose")


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed (packages.txt lists it)")
def test_compose_project_up_reach_by_name_and_port_down(berthd, docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    port = free_port()
    d = tempfile.mkdtemp(prefix="berth-e2e-compose-")
    with open(os.path.join(d, "docker-compose.yml"), "w") as f:
        f.write("""version: "3.8"
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]
    ports: ["127.0.0.1:%d:80"]
  client:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web/hostname > /tmp/got && break; sleep 0.5; done; sleep 600"]
""" % port)
    env = docker_env(berthd.host, docker.config_dir)
    env["COMPOSE_PROJECT_NAME"] = "berthe2e"
    run = lambda *a: subprocess.run([COMPOSE, *a], cwd=d, env=env, capture_output=True, text=True, timeout=120)
    try:
        p = run("up", "-d")
        assert p.returncode == 0, p.stderr
        web_host = docker.run("inspect", "-f", "{{.Config.Hostname}}", "berthe2e_web_1").stdout.strip()
        out = subprocess.run(["timeout", "5", "wget", "-qO-", "http://127.0.0.1:%d/hostname" % port],
                             capture_output=True, text=True).stdout
        assert out.strip() == web_host
        got = ""
        for _ in range(20):
            got = docker.run("exec", "berthe2e_client_1", "cat", "/tmp/got", check=False).stdout
            if got:
                break
            time.sleep(0.5)
        assert got.strip() == web_host
        assert "berthe2e_default" in docker.run("network", "ls", "--format", "{{.Name}}").stdout.split()
        p = run("ps")
        assert p.returncode == 0 and "Up" in p.stdout
        p = run("down")
        assert p.returncode == 0, p.stderr
        assert "berthe2e_default" not in docker.run("network", "ls", "--format", "{{.Name}}").stdout.split()
        assert docker.run("ps", "-aq", "--filter", "label=com.docker.compose.project=berthe2e").stdout.strip() == ""
    finally:
        run("down", "-t", "1")
        shutil.rmtree(d, ignore_errors=True)
