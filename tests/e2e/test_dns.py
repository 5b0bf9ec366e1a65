"""Name resolution on user networks: the embedded DNS server at 127.0.0.11, through the
stock docker CLI.

The daemon here runs in a mount namespace of its own where /etc/resolv.conf names a DNS
server this test runs on 127.0.0.153: every query berthd forwards goes there, never to the
machine's own resolvers."""
import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import TESTDATA, Berthd, DockerCLI

UPSTREAM_IP = "127.0.0.153"
UPSTREAM_NAMES = {"upstream.test.": "192.0.2.10"}


class FakeUpstream:
    """A DNS server for the test: known names get an A record, the rest NXDOMAIN."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((UPSTREAM_IP, 53))
        self.sock.settimeout(0.2)
        self.queries = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12:
                continue
            i, labels = 12, []
            while i < len(data) and data[i]:
                n = data[i]
                labels.append(data[i + 1:i + 1 + n].decode(errors="replace"))
                i += 1 + n
            qname = ".".join(labels) + "."
            question = data[12:i + 5]
            self.queries.append(qname)
            ip = UPSTREAM_NAMES.get(qname.lower())
            qtype = struct.unpack("!H", data[i + 1:i + 3])[0] if i + 3 <= len(data) else 0
            flags = 0x8180 if ip else 0x8183  # response, RD, RA; NXDOMAIN without a name
            an = 1 if ip and qtype == 1 else 0
            out = data[:2] + struct.pack("!HHHHH", flags, 1, an, 0, 0) + question
            if an:
                out += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(ip)
            self.sock.sendto(out, peer)

    def close(self):
        self.stop = True
        self.sock.close()
        self.thread.join(2)


@pytest.fixture(scope="module")
def upstream():
    u = FakeUpstream()
    yield u
    u.close()


@pytest.fixture(scope="module")
def dnsd(upstream):
    """A berthd whose /etc/resolv.conf names only the fake upstream."""
    base = tempfile.mkdtemp(prefix="berth-e2e-dns-")
    resolv = os.path.join(base, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver %s\nsearch example.test\noptions timeout:1 attempts:2\n" % UPSTREAM_IP)
    d = Berthd(base=base)
    inner = " ".join("'%s'" % a for a in d.args)
    d.args = ["unshare", "-m", "--propagation", "private", "sh", "-c",
              "mount --bind '%s' /etc/resolv.conf && exec %s" % (resolv, inner)]
    d.start()
    cli = DockerCLI(d.host)
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield d, cli
    for c in cli.run("ps", "-aq").stdout.split():
        cli.run("rm", "-f", c, check=False)
    cli.run("network", "prune", "-f", check=False)
    cli.cleanup()
    d.cleanup()


def lookup(cli, name, network="dn", check=True):
    # sh stays pid 1 (busybox timeout execs its command; pid 1 ignores SIGTERM).
    return cli.run("run", "--rm", "--network", network, "busybox", "sh", "-c",
                   "timeout 10 nslookup -type=a %s 127.0.0.11; exit $?" % name, check=check)


def addresses(out):
    lines = out.split("Name:", 1)[-1] if "Name:" in out else ""
    return sorted(l.split()[-1] for l in lines.splitlines() if l.startswith("Address"))


def test_names_aliases_hostnames_and_ids(dnsd, upstream):
    d, cli = dnsd
    cli.run("network", "create", "dn")
    cli.run("run", "-d", "--name", "db", "--network", "dn", "--network-alias", "database", "--hostname", "dbhost",
            "busybox", "sleep", "600")
    ip = cli.run("inspect", "-f", "{{.NetworkSettings.Networks.dn.IPAddress}}", "db").stdout.strip()
    cid = cli.run("inspect", "-f", "{{.Id}}", "db").stdout.strip()
    for name in ("db", "database", "dbhost", cid[:12], "DB"):
        assert addresses(lookup(cli, name).stdout) == [ip], name
    p = cli.run("run", "--rm", "--network", "dn", "busybox", "cat", "/etc/resolv.conf")
    assert p.stdout.splitlines()[0] == "nameserver 127.0.0.11"
    assert "search example.test" in p.stdout and "ndots:0" in p.stdout
    assert "DNSNames" in cli.run("inspect", "db").stdout
    # PTR for a container's address.
    p = cli.run("run", "--rm", "--network", "dn", "busybox", "sh", "-c", "timeout 10 nslookup %s 127.0.0.11; exit $?" % ip)
    assert "db.dn" in p.stdout


def test_upstream_names_are_forwarded_to_the_hosts_resolver(dnsd, upstream):
    d, cli = dnsd
    assert addresses(lookup(cli, "upstream.test").stdout) == ["192.0.2.10"]
    assert "upstream.test." in upstream.queries
    p = lookup(cli, "nosuchname.test", check=False)
    assert p.returncode != 0 or "NXDOMAIN" in p.stdout + p.stderr or "can't find" in p.stdout + p.stderr


def test_other_networks_and_stopped_containers_are_not_found(dnsd, upstream):
    d, cli = dnsd
    cli.run("network", "create", "other")
    cli.run("run", "-d", "--name", "elsewhere", "--network", "other", "busybox", "sleep", "600")
    p = lookup(cli, "elsewhere", check=False)
    assert addresses(p.stdout) == []
    assert addresses(lookup(cli, "elsewhere", network="other").stdout)
    cli.run("stop", "-t", "1", "elsewhere")
    assert addresses(lookup(cli, "elsewhere", network="other", check=False).stdout) == []
    cli.run("rm", "elsewhere")


def test_shared_alias_answers_every_container(dnsd, upstream):
    d, cli = dnsd
    ips = []
    for n in ("w1", "w2"):
        cli.run("run", "-d", "--name", n, "--network", "dn", "--network-alias", "web", "busybox", "sleep", "600")
        ips.append(cli.run("inspect", "-f", "{{.NetworkSettings.Networks.dn.IPAddress}}", n).stdout.strip())
    assert addresses(lookup(cli, "web").stdout) == sorted(ips)
    cli.run("rm", "-f", "w1", "w2")


def test_default_bridge_has_no_embedded_dns(dnsd, upstream):
    d, cli = dnsd
    p = cli.run("run", "--rm", "busybox", "cat", "/etc/resolv.conf")
    assert "127.0.0.11" not in p.stdout
    assert UPSTREAM_IP not in p.stdout  # a loopback resolver means nothing in the container


def test_names_resolve_again_after_berthd_is_killed(fresh_daemon):
    """In the host's mount namespace (a restart must find the bound network namespaces);
    only container names are asked, so nothing is forwarded off this machine."""
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cli.run("network", "create", "kn")
        cli.run("run", "-d", "--name", "survivor", "--network", "kn", "busybox", "sleep", "600")
        cli.run("run", "-d", "--name", "asker", "--network", "kn", "busybox", "sleep", "600")
        ip = cli.run("inspect", "-f", "{{.NetworkSettings.Networks.kn.IPAddress}}", "survivor").stdout.strip()
        d.stop(sig=signal.SIGKILL)
        d.start()
        p = cli.run("exec", "asker", "sh", "-c", "timeout 10 nslookup -type=a survivor 127.0.0.11; exit $?")
        assert addresses(p.stdout) == [ip]
        cli.run("rm", "-f", "survivor", "asker")
        cli.run("network", "rm", "kn")
    finally:
        cli.cleanup()


def test_internal_network_gets_no_upstream_answers(dnsd, upstream):
    """Names must not be a way out of an --internal network (CVE-2024-29018): local names
    resolve, others are refused and never reach the upstream."""
    d, cli = dnsd
    cli.run("network", "create", "--internal", "sealed")
    cli.run("run", "-d", "--name", "inside", "--network", "sealed", "busybox", "sleep", "600")
    try:
        before = len(upstream.queries)
        p = lookup(cli, "upstream.test", network="sealed", check=False)
        assert addresses(p.stdout) == []
        assert "upstream.test." not in upstream.queries[before:]
        ip = cli.run("inspect", "-f", "{{.NetworkSettings.Networks.sealed.IPAddress}}", "inside").stdout.strip()
        assert addresses(lookup(cli, "inside", network="sealed").stdout) == [ip]
    finally:
        cli.run("rm", "-f", "inside")
        cli.run("network", "rm", "sealed")


def test_connecting_a_bridge_container_to_a_user_network_brings_the_embedded_dns(dnsd, upstream):
    d, cli = dnsd
    cli.run("network", "create", "late")
    cli.run("run", "-d", "--name", "target", "--network", "late", "busybox", "sleep", "600")
    cli.run("run", "-d", "--name", "mover", "busybox", "sleep", "600")
    try:
        assert "127.0.0.11" not in cli.run("exec", "mover", "cat", "/etc/resolv.conf").stdout
        cli.run("network", "connect", "late", "mover")
        assert cli.run("exec", "mover", "cat", "/etc/resolv.conf").stdout.startswith("nameserver 127.0.0.11")
        ip = cli.run("inspect", "-f", "{{.NetworkSettings.Networks.late.IPAddress}}", "target").stdout.strip()
        p = cli.run("exec", "mover", "sh", "-c", "timeout 10 nslookup -type=a target 127.0.0.11; exit $?")
        assert addresses(p.stdout) == [ip]
    finally:
        cli.run("rm", "-f", "target", "mover")
        cli.run("network", "rm", "late")


TCP_QUERY = r"""
import socket, struct, sys
name = sys.argv[1]
q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
s = socket.create_connection(("127.0.0.11", 53), timeout=5)
s.sendall(struct.pack("!H", len(q)) + q)
n = struct.unpack("!H", s.recv(2))[0]
r = b""
while len(r) < n:
    r += s.recv(n - len(r))
an = struct.unpack("!H", r[6:8])[0]
print("rcode=%d an=%d" % (r[3] & 15, an))
if an:
    print(socket.inet_ntoa(r[-4:]))
"""


def test_queries_over_tcp(dnsd, upstream):
    """Clients fall back to TCP for truncated answers: 127.0.0.11:53/tcp answers too."""
    d, cli = dnsd
    cli.run("network", "create", "tcpn")
    cli.run("run", "-d", "--name", "tcp-a", "--network", "tcpn", "busybox", "sleep", "600")
    try:
        ip = cli.run("inspect", "-f", "{{.NetworkSettings.Networks.tcpn.IPAddress}}", "tcp-a").stdout.strip()
        key = cli.run("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "tcp-a").stdout.strip()
        pid = d.proc.pid
        # The namespace file is bound in berthd's own mount namespace: enter both.
        run = lambda name: subprocess.run(["nsenter", "-t", str(pid), "-m", "--", "nsenter", "--net=%s" % key,
                                           "/usr/bin/python3", "-c", TCP_QUERY, name],
                                          capture_output=True, text=True, timeout=30)
        p = run("tcp-a")
        assert p.stdout.split() == ["rcode=0", "an=1", ip], p.stderr
        p = run("upstream.test")
        assert p.stdout.split() == ["rcode=0", "an=1", "192.0.2.10"], p.stderr
    finally:
        cli.run("rm", "-f", "tcp-a")
        cli.run("network", "rm", "tcpn")


# A client as glibc's resolver is one: one query, 5 s for the answer (its default timeout).
# Prints "sent" once the query is out, then the answer's rcode and addresses.
CLIENT_QUERY = r"""
import socket, struct, sys, time
name, tcp = sys.argv[1], sys.argv[2] == "tcp"
q = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
if tcp:
    s = socket.create_connection(("127.0.0.11", 53), timeout=5)
    s.sendall(struct.pack("!H", len(q)) + q)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q, ("127.0.0.11", 53))
print("sent", flush=True)
t = time.monotonic()
if tcp:
    n = struct.unpack("!H", s.recv(2))[0]
    r = b""
    while len(r) < n:
        r += s.recv(n - len(r))
else:
    r = s.recv(4096)
assert r[:2] == q[:2]
an = struct.unpack("!H", r[6:8])[0]
print("rcode=%d an=%d waited=%.1f" % (r[3] & 15, an, time.monotonic() - t))
if an:
    print(socket.inet_ntoa(r[-4:]))
"""


def _fds(pid):
    return sorted(os.readlink("/proc/%d/fd/%s" % (pid, f)) for f in os.listdir("/proc/%d/fd" % pid))


def _settled_fds(pid):
    """The descriptors of @pid once an exec's connection that just ended has gone."""
    before = _fds(pid)
    for _ in range(30):
        time.sleep(0.2)
        now = _fds(pid)
        if now == before:
            return now
        before = now
    return before


def _children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return sorted(f.read().split())


def _dns_inodes(pid):
    """The inodes of the sockets bound to 127.0.0.11:53 in the network namespace of @pid."""
    out = []
    for proto in ("udp", "tcp"):
        with open("/proc/%d/net/%s" % (pid, proto)) as f:
            for line in f.readlines()[1:]:
                col = line.split()
                if col[1] == "0B00007F:0035" and col[9] != "0":  # not connections in TIME_WAIT
                    out.append("socket:[%s]" % col[9])
    return sorted(out)


def test_names_resolve_while_berthd_is_killed_and_restarted(fresh_daemon):
    """Each container's shim keeps its DNS sockets: `kill -9` of berthd leaves 127.0.0.11:53
    bound. While berthd is down the shim answers the names of the container's networks
    over UDP (from the snapshot berthd keeps, which follows containers that come later);
    a TCP query waits in the listen backlog and is answered by the restarted berthd within
    the client's 5 s. The restarted berthd serves the very same sockets again, and nothing
    is left behind in berthd or the shims."""
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cli.run("network", "create", "kq")
        for n in ("kept", "kasker"):
            cli.run("run", "-d", "--name", n, "--network", "kq", "busybox", "sleep", "600")
        ip = cli.run("inspect", "-f", "{{.NetworkSettings.Networks.kq.IPAddress}}", "kept").stdout.strip()
        pid = int(cli.run("inspect", "-f", "{{.State.Pid}}", "kasker").stdout)
        ids = [cli.run("inspect", "-f", "{{.Id}}", n).stdout.strip() for n in ("kept", "kasker")]
        shims = [int(open(os.path.join(d.exec_root, "containers", i, "shim.pid")).read()) for i in ids]

        def ask(name, want):
            p = cli.run("exec", "kasker", "sh", "-c", "timeout 10 nslookup -type=a %s 127.0.0.11; exit $?" % name)
            assert addresses(p.stdout) == [want]

        def ask_inside(name):
            """From inside kasker (all its namespaces, its own nslookup) without berthd."""
            return subprocess.run(["nsenter", "-t", str(pid), "-a", "timeout", "10", "nslookup", "-type=a", name,
                                   "127.0.0.11"], capture_output=True, text=True, timeout=20)

        ask("kept", ip)
        inodes = _dns_inodes(pid)
        assert len(inodes) == 2  # UDP and the TCP listener
        shim_fds = [_settled_fds(s) for s in shims]
        shim_children = [_children(s) for s in shims]  # the containers' inits
        berthd_fds = _fds(d.proc.pid)
        assert all(i in berthd_fds for i in inodes) and all(i in shim_fds[1] for i in inodes)

        after_restart = []
        names = {"kept": ip}
        cli.run("run", "-d", "--name", "kgone", "--network", "kq", "busybox", "sleep", "600")
        for rnd in range(2):  # the second round also sees whether the first left anything behind
            if rnd == 1:  # the snapshot follows containers that come and go after the first restart
                cli.run("run", "-d", "--name", "klate", "--network", "kq", "busybox", "sleep", "600")
                names["klate"] = cli.run("inspect", "-f", "{{.NetworkSettings.Networks.kq.IPAddress}}",
                                         "klate").stdout.strip()
                cli.run("rm", "-f", "kgone")
                time.sleep(0.5)  # berthd rewrites the snapshots within 200 ms of a change
            d.stop(sig=signal.SIGKILL)
            assert _dns_inodes(pid) == inodes  # still bound: nothing to rebind, no window
            deadline = time.time() + 3  # the shim sees its watch connection close
            while len(_children(shims[1])) < 2 and time.time() < deadline:
                time.sleep(0.05)
            assert len(_children(shims[1])) == 2  # the init, and berth-dns answering for berthd
            for name, want in names.items():
                p = ask_inside(name)
                assert p.returncode == 0 and addresses(p.stdout) == [want], (p.stdout, p.stderr)
            # Only names berthd would answer: not a made-up one, not a container that is gone.
            p = ask_inside("kasker.kq" if rnd == 0 else "kgone")
            assert addresses(p.stdout) == [], p.stdout
            udp = subprocess.run(["nsenter", "-t", str(pid), "-n", "/usr/bin/python3", "-c", CLIENT_QUERY, "kept",
                                  "udp"], capture_output=True, text=True, timeout=10)
            words = udp.stdout.split()
            assert words[:3] == ["sent", "rcode=0", "an=1"] and words[-1] == ip, udp.stdout + udp.stderr
            tcp = subprocess.Popen(["nsenter", "-t", str(pid), "-n", "/usr/bin/python3", "-c", CLIENT_QUERY, "kept",
                                    "tcp"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert tcp.stdout.readline().strip() == "sent", tcp.stderr.read()
            time.sleep(1)
            assert tcp.poll() is None  # TCP waits for berthd
            d.start()
            out, err = tcp.communicate(timeout=10)
            assert tcp.returncode == 0, err
            words = out.split()
            assert words[:2] == ["rcode=0", "an=1"] and words[-1] == ip, out

            for name, want in names.items():
                ask(name, want)
            assert _dns_inodes(pid) == inodes
            fds = _settled_fds(d.proc.pid)
            assert all(fds.count(i) == 1 for i in inodes)  # served again: the same sockets, once
            after_restart.append(len(fds))
            # The shims' watch connections are new (the new berthd's); nothing else is (an
            # exec's connection may take a moment to go).
            deadline = time.time() + 3
            while [len(_fds(s)) for s in shims] != [len(f) for f in shim_fds] and time.time() < deadline:
                time.sleep(0.1)
            assert [len(_fds(s)) for s in shims] == [len(f) for f in shim_fds]
            assert all(i in _fds(shims[1]) for i in inodes)
            assert [_children(s) for s in shims] == shim_children  # the helpers that answered are gone
        # klate came, kgone went: as many DNS sockets and watch connections as before
        assert after_restart[0] == after_restart[1]
        cli.run("rm", "-f", "klate")
        cli.run("rm", "-f", "kept", "kasker")
        cli.run("network", "rm", "kq")
    finally:
        cli.cleanup()
