"""Published ports through the stock docker CLI: -p and -P forwarded by the kernel, from
the host (127.0.0.1 included) and from other containers (hairpin), reservations, and
forwarding that goes on while berthd is down.

Traffic goes only to 127.0.0.1 and to the test daemon's own bridge address."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import TESTDATA, DockerCLI
from registry import free_port


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield
    for c in docker.run("ps", "-aq").stdout.split():
        docker.run("rm", "-f", c, check=False)


def get(url, timeout=5):
    p = subprocess.run(["timeout", str(timeout), "wget", "-qO-", url], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else None


def serve(docker, name, *opts):
    docker.run("run", "-d", "--name", name, *opts, "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
    return json.loads(docker.run("inspect", name).stdout)[0]["Config"]["Hostname"]


def table_text(berthd):
    return subprocess.run(["nft", "list", "table", "inet", berthd.nft_table()], capture_output=True, text=True).stdout


def test_publish_on_localhost_serves_the_host(berthd, docker, images):
    port = free_port()
    host = serve(docker, "pt-web", "-p", "127.0.0.1:%d:80" % port)
    try:
        assert get("http://127.0.0.1:%d/hostname" % port).strip() == host
        assert docker.run("port", "pt-web").stdout.strip() == "80/tcp -> 127.0.0.1:%d" % port
        assert "127.0.0.1:%d->80/tcp" % port in docker.run("ps", "--filter", "name=pt-web",
                                                            "--format", "{{.Ports}}").stdout
        info = json.loads(docker.run("inspect", "pt-web").stdout)[0]
        assert info["NetworkSettings"]["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
        assert info["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
        # berthd holds the port: no other program can take it.
        s = socket.socket()
        with pytest.raises(OSError):
            s.bind(("127.0.0.1", port))
        s.close()
        # The same host port twice is refused with dockerd's words, and leaves nothing.
        p = docker.run("run", "-d", "--name", "pt-dup", "-p", "127.0.0.1:%d:80" % port, "busybox", "true", check=False)
        assert p.returncode != 0
        assert "Bind for 127.0.0.1:%d failed: port is already allocated" % port in p.stderr
        assert json.loads(docker.run("inspect", "pt-dup").stdout)[0]["State"]["Running"] is False
        docker.run("rm", "pt-dup")
    finally:
        docker.run("rm", "-f", "pt-web")
    # Stopped: forwarding and reservation are gone.
    assert get("http://127.0.0.1:%d/hostname" % port, timeout=2) is None
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.close()
    assert ":%d" % port not in table_text(berthd) and ". %d :" % port not in table_text(berthd)


def test_publish_all_picks_ports_docker_port_reports(berthd, docker, images):
    host = serve(docker, "pt-all", "-P", "--expose", "80", "--expose", "9000/udp")
    try:
        out = docker.run("port", "pt-all", "80/tcp").stdout.split()
        ip, port = out[0].rsplit(":", 1)
        assert ip == "0.0.0.0"
        lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
        assert lo <= int(port) <= hi
        assert get("http://127.0.0.1:%s/hostname" % port).strip() == host
        ports = json.loads(docker.run("inspect", "pt-all").stdout)[0]["NetworkSettings"]["Ports"]
        assert set(ports) == {"80/tcp", "9000/udp"} and ports["9000/udp"][0]["HostPort"]
        names = lambda *f: docker.run("ps", *f, "--format", "{{.Names}}").stdout.split()
        assert names("--filter", "publish=%s" % port) == ["pt-all"]
        assert names("--filter", "expose=9000/udp") == ["pt-all"]
    finally:
        docker.run("rm", "-f", "pt-all")


def test_port_in_use_by_a_host_process_fails_the_start_cleanly(berthd, docker, images):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        p = docker.run("run", "-d", "--name", "pt-busy", "-p", "127.0.0.1:%d:80" % port, "busybox", "sleep", "60",
                       check=False)
        assert p.returncode != 0 and "address already in use" in p.stderr.lower()
        assert ". %d :" % port not in table_text(berthd)
    finally:
        s.close()
        docker.run("rm", "-f", "pt-busy", check=False)


UDP_RECV_C = r"""
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return 1;
        char buf[512];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return 1;
        buf[n] = 0;
        printf("got %s\n", buf);
        return 0;
}
"""


@pytest.fixture(scope="module")
def udp_recv(tmp_path_factory):
    """busybox has no UDP server: a static one-shot receiver of our own."""
    d = tmp_path_factory.mktemp("udprecv")
    (d / "r.c").write_text(UDP_RECV_C)
    subprocess.run(["cc", "-static", "-O1", "-o", str(d / "udprecv"), str(d / "r.c")], check=True)
    return str(d / "udprecv")


def test_udp_is_forwarded(berthd, docker, images, udp_recv):
    port = free_port()
    docker.run("run", "-d", "--name", "pt-udp", "-v", "%s:/udprecv:ro" % udp_recv,
               "-p", "127.0.0.1:%d:9999/udp" % port, "busybox", "/udprecv", "9999")
    try:
        deadline = time.time() + 10
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        while time.time() < deadline:
            u.sendto(b"hello-udp", ("127.0.0.1", port))
            time.sleep(0.2)
            if json.loads(docker.run("inspect", "pt-udp").stdout)[0]["State"]["Status"] == "exited":
                break
        u.close()
        assert docker.run("logs", "pt-udp").stdout.strip() == "got hello-udp"
    finally:
        docker.run("rm", "-f", "pt-udp")


def test_hairpin_from_another_container_through_the_host_address(berthd, docker, images):
    port = free_port()
    host = serve(docker, "pt-hp", "-p", "%d:80" % port)
    try:
        gw = "10.%d.0.1" % berthd.net
        p = docker.run("run", "--rm", "busybox", "sh", "-c", "timeout 5 wget -qO- http://%s:%d/hostname; exit $?" % (gw, port))
        assert p.stdout.strip() == host
        # Its own published port, through the host, from inside itself.
        p = docker.run("exec", "pt-hp", "sh", "-c", "timeout 5 wget -qO- http://%s:%d/hostname; exit $?" % (gw, port))
        assert p.stdout.strip() == host
        # And from the host through that address too.
        assert get("http://%s:%d/hostname" % (gw, port)).strip() == host
    finally:
        docker.run("rm", "-f", "pt-hp")


def test_published_port_serves_while_berthd_is_killed_and_after(fresh_daemon):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    port = free_port()
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cli.run("run", "-d", "--name", "kp", "-p", "127.0.0.1:%d:80" % port, "busybox", "httpd", "-f", "-p", "80",
                "-h", "/etc")
        host = json.loads(cli.run("inspect", "kp").stdout)[0]["Config"]["Hostname"]
        assert get("http://127.0.0.1:%d/hostname" % port).strip() == host
        d.stop(sig=signal.SIGKILL)
        assert get("http://127.0.0.1:%d/hostname" % port).strip() == host  # no berthd at all
        d.start()
        assert get("http://127.0.0.1:%d/hostname" % port).strip() == host
        assert cli.run("port", "kp").stdout.strip() == "80/tcp -> 127.0.0.1:%d" % port
        # The reservation is taken again: another container cannot have the port.
        p = cli.run("run", "-d", "-p", "127.0.0.1:%d:80" % port, "busybox", "true", check=False)
        assert p.returncode != 0 and "port is already allocated" in p.stderr
        cli.run("rm", "-f", "kp")
        assert get("http://127.0.0.1:%d/hostname" % port, timeout=2) is None
    finally:
        cli.cleanup()


def free_range(n):
    """A first port of @n free TCP ports on 127.0.0.1, below the ephemeral range (whose ports
    the machine's own outgoing connections take at any moment)."""
    import random
    for _ in range(200):
        base = random.randrange(20000, 32000 - n)
        socks = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no %d free ports in a row" % n)


def test_range_publishes_every_port(berthd, docker, images):
    base = free_range(20)
    spec = "127.0.0.1:%d-%d:8000-8019" % (base, base + 19)
    t0 = time.time()
    docker.run("run", "-d", "--name", "pt-range", "-p", spec, "busybox", "sleep", "600")
    try:
        out = docker.run("port", "pt-range").stdout.splitlines()
        assert len(out) == 20
        assert "8019/tcp -> 127.0.0.1:%d" % (base + 19) in out
        assert time.time() - t0 < 10
    finally:
        docker.run("rm", "-f", "pt-range")


def test_admin_chain_filters_published_traffic_and_survives_changes(berthd, docker, images):
    """The administrator's chain: a rule there drops forwarded published-port traffic (here
    from a container through the host's address), and berth's own changes (a new network)
    leave it alone. As with dockerd's DOCKER-USER, the host's own connections do not pass it."""
    table = berthd.nft_table()
    port = free_port()
    host = serve(docker, "pt-adm", "-p", "%d:80" % port)
    url = "http://10.%d.0.1:%d/hostname" % (berthd.net, port)
    fetch = lambda: docker.run("run", "--rm", "busybox", "sh", "-c", "timeout 3 wget -qO- %s; exit $?" % url,
                               check=False).stdout.strip()
    try:
        assert fetch() == host
        subprocess.run(["nft", "add", "rule", "inet", table, "admin", "ct", "status", "dnat", "meta", "l4proto", "tcp",
                        "ct", "original", "proto-dst", str(port), "drop"], check=True)
        docker.run("network", "create", "adm-net")  # berth rewrites its chains
        assert "proto-dst %d drop" % port in table_text(berthd)
        assert fetch() == ""
        subprocess.run(["nft", "flush", "chain", "inet", table, "admin"], check=True)
        assert fetch() == host
    finally:
        subprocess.run(["nft", "flush", "chain", "inet", table, "admin"], capture_output=True)
        docker.run("rm", "-f", "pt-adm")
        docker.run("network", "rm", "adm-net", check=False)
