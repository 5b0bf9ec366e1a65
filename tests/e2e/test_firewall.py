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


class OtherHost:
    """"Another host": a network namespace of the test's own behind a veth pair, routing
    the test daemon's 10.N.0.0/16 through the host, as a router on the LAN would."""

    def __init__(self, net):
        pid = os.getpid() % 100000
        self.ns, self.host_end = "bfo%d" % pid, "bfh%d" % pid
        self.addr, self.gw = "10.%d.250.2" % net, "10.%d.250.1" % net
        self.close()
        for cmd in (["ip", "netns", "add", self.ns],
                    ["ip", "link", "add", self.host_end, "type", "veth", "peer", "name", "eth0", "netns", self.ns],
                    ["ip", "addr", "add", self.gw + "/30", "dev", self.host_end],
                    ["ip", "link", "set", self.host_end, "up"],
                    ["ip", "-n", self.ns, "addr", "add", self.addr + "/30", "dev", "eth0"],
                    ["ip", "-n", self.ns, "link", "set", "eth0", "up"],
                    ["ip", "-n", self.ns, "link", "set", "lo", "up"],
                    ["ip", "-n", self.ns, "route", "add", "10.%d.0.0/16" % net, "via", self.gw]):
            subprocess.run(cmd, check=True, capture_output=True)
        self.procs = []

    def reaches(self, ip, port):
        p = subprocess.run(["ip", "netns", "exec", self.ns, "timeout", "2", "wget", "-qO-",
                            "http://%s:%d/hostname" % (ip, port)], capture_output=True, text=True)
        return p.returncode == 0

    def peer_server(self, port):
        """A TCP server in the namespace that answers each client with its source address."""
        code = ("import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                "s.bind(('0.0.0.0',%d))\ns.listen(8)\nwhile True:\n c,a=s.accept()\n"
                " c.sendall(('HTTP/1.0 200 OK\\r\\n\\r\\n'+a[0]+'\\n').encode())\n c.close()\n" % port)
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", code])
        self.procs.append(p)
        deadline = time.time() + 5
        while time.time() < deadline:
            if subprocess.run(["ip", "netns", "exec", self.ns, "sh", "-c", "ss -ltn | grep -q :%d" % port]).returncode == 0:
                return
            time.sleep(0.05)

    def close(self):
        for p in getattr(self, "procs", []):
            p.kill()
            p.wait()
        subprocess.run(["ip", "link", "del", self.host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)


def two_servers(docker, name, net, *opts):
    """httpd on 80 (published to 127.0.0.1) and on 8080 (not published)."""
    docker.run("run", "-d", "--name", name, "--network", net, "-p", "127.0.0.1::80", *opts, "busybox", "sh", "-c",
               "httpd -p 8080 -h /etc; exec httpd -f -p 80 -h /etc")
    return json.loads(docker.run("inspect", name).stdout)[0]["NetworkSettings"]["Networks"][net]["IPAddress"]


def source_seen(docker, net, other):
    p = docker.run("run", "--rm", "--network", net, "busybox", "sh", "-c",
                   "timeout 3 wget -qO- http://%s:9999/; exit $?" % other.addr, check=False)
    return p.stdout.strip()


def test_gateway_modes_nat_nat_unprotected_and_routed(berthd, docker, images):
    other = OtherHost(berthd.net)
    other.peer_server(9999)
    nets = {"nat": "gm-nat", "nat-unprotected": "gm-unp", "routed": "gm-routed"}
    try:
        ips = {}
        for i, (mode, net) in enumerate(sorted(nets.items())):
            docker.run("network", "create", "--subnet", berthd.subnet(20 + i), "-o",
                       "com.docker.network.bridge.gateway_mode_ipv4=" + mode, net)
            ips[mode] = two_servers(docker, net + "-web", net)
        assert json.loads(docker.run("network", "inspect", "gm-routed").stdout)[0]["Options"][
            "com.docker.network.bridge.gateway_mode_ipv4"] == "routed"
        # nat (the default): another host cannot address the container at all (raw drop).
        assert not other.reaches(ips["nat"], 80) and not other.reaches(ips["nat"], 8080)
        # nat-unprotected: it can, on any port.
        assert other.reaches(ips["nat-unprotected"], 80) and other.reaches(ips["nat-unprotected"], 8080)
        # routed: on the published container port only.
        assert other.reaches(ips["routed"], 80) and not other.reaches(ips["routed"], 8080)
        # Outbound: masqueraded behind the host's address, except from a routed network.
        assert source_seen(docker, "gm-nat", other) == other.gw
        assert source_seen(docker, "gm-routed", other).startswith(berthd.subnet(22).rsplit(".", 2)[0])
        # The published port of the routed container is closed again when it stops.
        docker.run("rm", "-f", "gm-routed-web")
        assert not other.reaches(ips["routed"], 80)
        p = docker.run("network", "create", "-o", "com.docker.network.bridge.gateway_mode_ipv4=bogus", "gm-bad",
                       check=False)
        assert p.returncode != 0 and "unknown gateway mode bogus" in p.stderr
    finally:
        other.close()
        for net in nets.values():
            docker.run("rm", "-f", net + "-web", check=False)
            docker.run("network", "rm", net, check=False)


def test_bridge_accept_fwmark_accepts_marked_packets(fresh_daemon):
    from conftest import DockerCLI
    d = fresh_daemon(config='{"bridge-accept-fwmark": "0x2a/0xff"}')
    docker = DockerCLI(d.host)
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    other = OtherHost(d.net)
    mark_table = "bfm%d" % (os.getpid() % 100000)
    try:
        docker.run("network", "create", "--subnet", d.subnet(1), "-o",
                   "com.docker.network.bridge.gateway_mode_ipv4=routed", "fm")
        ip = two_servers(docker, "fm-web", "fm")
        assert not other.reaches(ip, 8080)  # not published: dropped
        subprocess.run(["nft", "-f", "-"], check=True, text=True, input=(
            "table inet %s {\n chain pre {\n  type filter hook prerouting priority mangle;\n"
            "  iifname \"%s\" meta mark set 0x12a\n }\n}\n" % (mark_table, other.host_end)))
        assert other.reaches(ip, 8080)  # 0x12a & 0xff == 0x2a: accepted
        docker.run("rm", "-f", "fm-web")
        docker.run("network", "rm", "fm")
    finally:
        subprocess.run(["nft", "delete", "table", "inet", mark_table], capture_output=True)
        other.close()
        docker.cleanup()
    bad = fresh_daemon("--bridge-accept-fwmark", "0x2a/zz", start=False)
    p = subprocess.run(bad.args, capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and 'invalid argument "0x2a/zz" for "--bridge-accept-fwmark" flag' in p.stderr + p.stdout


def test_a_thousand_port_range_keeps_berthd_up(berthd, docker, images):
    """A 1,000-port range holds 1,000 reservation sockets; libnftables' own socket must still
    get a descriptor select() takes (it aborted berthd once)."""
    import random
    for _ in range(5):
        base = random.randrange(21000, 29000)
        spec = "127.0.0.1:%d-%d:%d-%d" % (base, base + 999, base, base + 999)
        p = docker.run("run", "-d", "--name", "fw-range", "-p", spec, "busybox", "httpd", "-f", "-p", str(base + 999),
                       "-h", "/etc", check=False)
        if p.returncode == 0:
            break
        docker.run("rm", "-f", "fw-range", check=False)  # a port of the range was taken: another range
    else:
        pytest.skip("no free range of 1,000 ports on 127.0.0.1")
    try:
        port = free_port()
        docker.run("run", "-d", "--name", "fw-after", "-p", "127.0.0.1:%d:80" % port, "busybox", "httpd", "-f", "-p",
                   "80", "-h", "/etc")
        host = json.loads(docker.run("inspect", "fw-range").stdout)[0]["Config"]["Hostname"]
        assert get("http://127.0.0.1:%d/hostname" % (base + 999)).strip() == host
        assert len(docker.run("port", "fw-range").stdout.splitlines()) == 1000
    finally:
        docker.run("rm", "-f", "fw-range", "fw-after", check=False)
    assert docker.run("ps", "-q").returncode == 0 and berthd.proc.poll() is None
