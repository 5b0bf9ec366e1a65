"""Coexistence with other programs' firewalls: berth's nftables table comes back, without a
restart of berthd, after another program deletes or flushes it (what `nft flush ruleset`
and a firewalld reload do to it).

The test removes only its own daemon's table (never the host's ruleset: other programs
share this machine). Traffic goes only to the test's own containers and to 127.0.0.1."""
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import TESTDATA


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield
    for c in docker.run("ps", "-aq").stdout.split():
        docker.run("rm", "-f", c, check=False)
    docker.run("network", "prune", "-f", check=False)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=3):
    p = subprocess.run(["timeout", str(timeout), "wget", "-qO-", url], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else None


def nft(*args):
    subprocess.run(["nft", *args], check=True, capture_output=True)


def putbacks(berthd):
    return berthd.read_log().count("putting berth's rules back")


def test_rules_come_back_after_the_table_is_deleted_or_flushed(berthd, docker, images):
    table = berthd.nft_table()
    port = free_port()
    docker.run("network", "create", "fw-a")
    docker.run("network", "create", "fw-b")
    docker.run("run", "-d", "--name", "fw-web", "--network", "fw-a", "-p", "127.0.0.1:%d:80" % port, "busybox",
               "httpd", "-f", "-p", "80", "-h", "/etc")
    try:
        info = json.loads(docker.run("inspect", "fw-web").stdout)[0]
        host, ip = info["Config"]["Hostname"], info["NetworkSettings"]["Networks"]["fw-a"]["IPAddress"]
        url = "http://127.0.0.1:%d/hostname" % port

        def isolated():
            p = docker.run("run", "--rm", "--network", "fw-b", "busybox", "sh", "-c",
                           "timeout 2 wget -qO- http://%s/hostname; exit $?" % ip, check=False)
            return p.returncode != 0

        assert get(url).strip() == host and isolated()
        assert putbacks(berthd) == 0  # berth's own changes are never taken for another's
        for n, action in enumerate((["delete", "table", "inet", table], ["flush", "table", "inet", table],
                                    ["flush", "map", "inet", table, "pub_ip"])):
            nft(*action)
            start = time.time()
            served = None
            while time.time() - start < 3 and served is None:
                served = get(url, timeout=1)
            took = time.time() - start
            assert served and served.strip() == host, "%s: not put back" % " ".join(action)
            assert took < 2.5, "%s: put back after %.1fs" % (" ".join(action), took)
            assert isolated(), "%s: networks are not isolated again" % " ".join(action)
            assert putbacks(berthd) == n + 1  # once per change of another program: no loop
        # Rules an administrator adds to the admin chain are theirs: no put-back for them.
        nft("add", "rule", "inet", table, "admin", "counter")
        nft("flush", "chain", "inet", table, "admin")
        time.sleep(0.5)
        assert putbacks(berthd) == 3
    finally:
        docker.run("rm", "-f", "fw-web", check=False)
        docker.run("network", "rm", "fw-a", "fw-b", check=False)
