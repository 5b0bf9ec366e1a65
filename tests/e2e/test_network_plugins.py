"""Network and IPAM driver plugins (libnetwork's remote driver protocol): `docker network
create -d NAME` and `--ipam-driver NAME` with tests/e2e/plugins/net_plugin.py on a unix
socket in EXEC-ROOT/plugins. The plugin makes its own bridge and veth pairs in the host's
namespace (names TAG..., TAG = "bp" + the daemon's N) and hands addresses from the
daemon's 10.N.210.0/24 (Berthd.subnet(10)); it logs every call, which the tests count."""
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import TESTDATA, Berthd, DockerCLI

HERE = os.path.dirname(os.path.abspath(__file__))
NETPLUG = os.path.join(HERE, "plugins", "net_plugin.py")


class NetPlugin:
    def __init__(self, plugin_dir, name, tag, pool, *args):
        self.dir = tempfile.mkdtemp(prefix="berth-netplugin-")
        self.name, self.tag = name, tag
        self.log = os.path.join(self.dir, "calls.log")
        os.makedirs(plugin_dir, exist_ok=True)
        self.sock = os.path.join(plugin_dir, name + ".sock")
        self.proc = subprocess.Popen([sys.executable, NETPLUG, self.sock, self.log, "--tag", tag, "--pool", pool, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout.readline().split()[:1] == [b"ready"]

    def calls(self, method=None):
        try:
            with open(self.log) as f:
                out = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []
        return [c for c in out if method is None or c["method"] == method]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if os.path.exists(self.sock):
            os.unlink(self.sock)

    def cleanup(self):
        self.stop()
        subprocess.run(["rm", "-rf", self.dir])


def links_with(prefix):
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ": " + prefix in line]


@pytest.fixture(scope="module")
def daemon():
    d = Berthd().start()
    cli = DockerCLI(d.host)
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    d.cli = cli
    d.plugin_dir = os.path.join(d.exec_root, "plugins")
    d.tag = "bp%d" % d.net
    yield d
    cli.cleanup()
    d.cleanup()
    for name in links_with(d.tag):  # what a failed test left
        subprocess.run(["ip", "link", "del", name], capture_output=True)


@pytest.fixture
def plug(daemon):
    p = NetPlugin(daemon.plugin_dir, "berthtestnet", daemon.tag, daemon.subnet(10))
    yield p
    cli = daemon.cli
    for c in cli.run("ps", "-aq").stdout.split():
        cli.run("rm", "-f", c, check=False)
    for n in cli.run("network", "ls", "-q", "--filter", "driver=berthtestnet").stdout.split():
        cli.run("network", "rm", n, check=False)
    for n in cli.run("network", "ls", "--format", "{{.Name}}").stdout.split():
        if n.startswith("pn"):
            cli.run("network", "rm", n, check=False)
    p.cleanup()


def inspect(cli, kind, name):
    return json.loads(cli.run(kind, "inspect", name).stdout)[0]


def test_network_create_inspect_rm(daemon, plug):
    cli = daemon.cli
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "--ipam-opt", "color=blue",
            "-o", "foo=bar", "--label", "k=v", "pn1")
    n = inspect(cli, "network", "pn1")
    pool = ipaddress.ip_network(daemon.subnet(10))
    assert n["Driver"] == "berthtestnet"
    assert n["IPAM"]["Driver"] == "berthtestnet"
    assert n["IPAM"]["Options"] == {"color": "blue"}
    assert n["IPAM"]["Config"][0]["Subnet"] == str(pool)
    assert n["IPAM"]["Config"][0]["Gateway"] == str(pool.network_address + 1)
    assert n["Options"] == {"foo": "bar"} and n["Labels"] == {"k": "v"}
    assert n["Scope"] == "local"
    assert not any(k.startswith("Berth") for k in n)

    rp = plug.calls("IpamDriver.RequestPool")
    assert len(rp) == 1 and rp[0]["body"]["Options"] == {"color": "blue"}
    assert rp[0]["body"]["AddressSpace"] == "berthlocal" and rp[0]["body"]["V6"] is False
    gw = plug.calls("IpamDriver.RequestAddress")
    assert [c["body"]["Options"] for c in gw] == [{"RequestAddressType": "com.docker.network.gateway"}]
    cn = plug.calls("NetworkDriver.CreateNetwork")
    assert len(cn) == 1 and cn[0]["body"]["NetworkID"] == n["Id"]
    assert cn[0]["body"]["Options"]["com.docker.network.generic"] == {"foo": "bar"}
    d4 = cn[0]["body"]["IPv4Data"][0]
    assert d4["Pool"] == str(pool) and d4["Gateway"] == "%s/%d" % (pool.network_address + 1, pool.prefixlen)
    assert d4["AddressSpace"] == "berthlocal"
    bridge = daemon.tag + "b" + n["Id"][:6]
    assert bridge in links_with(daemon.tag)

    info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
    assert "berthtestnet" in info["Plugins"]["Network"]
    assert "pn1" in cli.run("network", "ls", "--filter", "driver=berthtestnet", "--format", "{{.Name}}").stdout.split()

    cli.run("network", "rm", "pn1")
    assert len(plug.calls("NetworkDriver.DeleteNetwork")) == 1
    assert [c["body"]["Address"] for c in plug.calls("IpamDriver.ReleaseAddress")] == [str(pool.network_address + 1)]
    assert len(plug.calls("IpamDriver.ReleasePool")) == 1
    assert links_with(daemon.tag) == []


def test_containers_get_plugin_addresses_and_reach_each_other(daemon, plug):
    cli = daemon.cli
    pool = ipaddress.ip_network(daemon.subnet(10))
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "pn2")
    cli.run("run", "-d", "--name", "pweb", "--network", "pn2", "busybox",
            "sh", "-c", "echo hello-from-plugin > /tmp/index.html; exec httpd -f -p 80 -h /tmp")
    web = inspect(cli, "container", "pweb")["NetworkSettings"]["Networks"]["pn2"]
    assert web["IPAddress"] == str(pool.network_address + 10) and web["IPPrefixLen"] == 24
    assert web["Gateway"] == str(pool.network_address + 1)
    eid = web["EndpointID"]
    assert web["MacAddress"] == "02:42:be:%s:%s:%s" % (eid[0:2], eid[2:4], eid[4:6])  # the driver's
    # the link the plugin made is the container's eth0, with the plugin's routes
    addr = cli.run("exec", "pweb", "ip", "-o", "-4", "addr", "show", "eth0").stdout
    assert "%s/24" % web["IPAddress"] in addr
    routes = cli.run("exec", "pweb", "ip", "route").stdout
    nxt = ipaddress.ip_network("%s/24" % (pool.network_address + 256))
    assert "default via %s dev eth0" % web["Gateway"] in routes
    assert "%s via %s dev eth0" % (nxt, web["Gateway"]) in routes

    # by address, and by name through the embedded DNS as on any user network
    out = cli.run("run", "--name", "pclient", "--network", "pn2", "busybox", "sh", "-c",
                  "timeout 5 wget -qO- http://%s/ && timeout 5 wget -qO- http://pweb/; exit $?" % web["IPAddress"]).stdout
    assert out.split() == ["hello-from-plugin", "hello-from-plugin"]
    client = inspect(cli, "container", "pclient")["NetworkSettings"]
    # pclient has ended: its endpoint went (Leave, DeleteEndpoint, ReleaseAddress once each)
    assert client["Networks"]["pn2"]["IPAddress"] == ""
    deadline = time.time() + 5
    while time.time() < deadline and len(plug.calls("IpamDriver.ReleaseAddress")) < 1:
        time.sleep(0.05)
    joins = plug.calls("NetworkDriver.Join")
    assert len(joins) == 2 and joins[1]["body"]["SandboxKey"]
    # and, as dockerd, the driver's operational data once per join
    assert [c["body"]["EndpointID"] for c in plug.calls("NetworkDriver.EndpointOperInfo")] == [
        j["body"]["EndpointID"] for j in joins]
    client_eid = joins[1]["body"]["EndpointID"]
    for m in ("NetworkDriver.Leave", "NetworkDriver.DeleteEndpoint"):
        assert [c["body"]["EndpointID"] for c in plug.calls(m)] == [client_eid], m
    assert [c["body"]["Address"] for c in plug.calls("IpamDriver.ReleaseAddress")] == [str(pool.network_address + 11)]
    # the container's link came back under its own name before DeleteEndpoint
    assert plug.calls("NetworkDriver.DeleteEndpoint")[0]["body"]["_ctr_back"] is True

    # disconnect the web container: the same, for its endpoint
    cli.run("network", "disconnect", "pn2", "pweb")
    assert [c["body"]["EndpointID"] for c in plug.calls("NetworkDriver.Leave")] == [client_eid, eid]
    assert [c["body"]["EndpointID"] for c in plug.calls("NetworkDriver.DeleteEndpoint")] == [client_eid, eid]
    assert len(plug.calls("IpamDriver.ReleaseAddress")) == 2
    assert "eth0" not in cli.run("exec", "pweb", "ip", "-o", "link").stdout
    cli.run("rm", "-f", "pweb")
    assert len(plug.calls("NetworkDriver.Leave")) == 2  # nothing more to leave
    cli.run("network", "rm", "pn2")
    assert links_with(daemon.tag) == []


def test_rm_f_of_running_container_releases_once(daemon, plug):
    cli = daemon.cli
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "pn3")
    cli.run("run", "-d", "--name", "prm", "--network", "pn3", "busybox", "sleep", "300")
    cli.run("rm", "-f", "prm")
    deadline = time.time() + 5
    while time.time() < deadline and not plug.calls("IpamDriver.ReleaseAddress"):
        time.sleep(0.05)
    time.sleep(0.3)  # and no second one
    assert len(plug.calls("NetworkDriver.Leave")) == 1
    assert len(plug.calls("NetworkDriver.DeleteEndpoint")) == 1
    assert len(plug.calls("IpamDriver.ReleaseAddress")) == 1
    cli.run("network", "rm", "pn3")
    assert links_with(daemon.tag) == []


def test_plugin_driver_with_berths_ipam(daemon, plug):
    cli = daemon.cli
    sub = ipaddress.ip_network(daemon.subnet(12))
    cli.run("network", "create", "-d", "berthtestnet", "--subnet", str(sub), "pn4")
    n = inspect(cli, "network", "pn4")
    assert n["IPAM"]["Driver"] == "default" and n["IPAM"]["Config"][0]["Subnet"] == str(sub)
    out = cli.run("run", "--rm", "--network", "pn4", "--ip", str(sub.network_address + 7), "busybox",
                  "ip", "-o", "-4", "addr", "show", "eth0").stdout
    assert "%s/24" % (sub.network_address + 7) in out
    assert plug.calls("IpamDriver.RequestPool") == []
    cn = plug.calls("NetworkDriver.CreateNetwork")[0]["body"]["IPv4Data"][0]
    assert cn["Pool"] == str(sub) and cn["Gateway"] == "%s/24" % (sub.network_address + 1)
    cli.run("network", "rm", "pn4")


def test_bridge_with_ipam_plugin(daemon, plug):
    cli = daemon.cli
    sub = ipaddress.ip_network(daemon.subnet(13))
    cli.run("network", "create", "--ipam-driver", "berthtestnet", "--subnet", str(sub), "pn5")
    n = inspect(cli, "network", "pn5")
    assert n["Driver"] == "bridge" and n["IPAM"]["Driver"] == "berthtestnet"
    rp = plug.calls("IpamDriver.RequestPool")
    assert len(rp) == 1 and rp[0]["body"]["Pool"] == str(sub)
    out = cli.run("run", "--rm", "--network", "pn5", "busybox", "sh", "-c",
                  "ip -o -4 addr show eth0; timeout 5 ping -c1 -W2 %s >/dev/null && echo gw-ok" % (sub.network_address + 1)).stdout
    assert "%s/24" % (sub.network_address + 10) in out and "gw-ok" in out
    deadline = time.time() + 5
    while time.time() < deadline and not plug.calls("IpamDriver.ReleaseAddress"):
        time.sleep(0.05)
    assert [c["body"]["Address"] for c in plug.calls("IpamDriver.ReleaseAddress")] == [str(sub.network_address + 10)]
    cli.run("network", "rm", "pn5")
    assert len(plug.calls("IpamDriver.ReleasePool")) == 1


def test_plugin_errors_reach_the_user(daemon, plug):
    cli = daemon.cli
    p = cli.run("network", "create", "-d", "berthtestnet", "-o", "berth.test.fail=no fabric here", "pn6", check=False)
    assert p.returncode != 0
    assert "Error response from daemon: remote: no fabric here" in p.stderr
    p = cli.run("network", "create", "--ipam-driver", "berthtestnet", "--ipam-opt", "fail=pool exhausted", "pn7",
                check=False)
    assert p.returncode != 0
    assert "Error response from daemon: remote: pool exhausted" in p.stderr
    names = cli.run("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "pn6" not in names and "pn7" not in names
    assert links_with(daemon.tag) == []
    # the failed CreateNetwork gave back nothing it had not got: berth's own IPAM was used
    assert plug.calls("IpamDriver.ReleasePool") == []


def test_plugin_gone_fails_closed(daemon, plug):
    cli = daemon.cli
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "pn8")
    cli.run("run", "-d", "--name", "pgone", "--network", "pn8", "busybox", "sleep", "300")
    before = cli.run("network", "ls", "-q").stdout.split()
    plug.stop()  # its socket is gone
    # the container still goes, after one retry window, not one per call
    t0 = time.time()
    cli.run("rm", "-f", "pgone")
    assert time.time() - t0 < 3  # one failed call takes ~1 s here, four ~4.5 s
    assert "pgone" not in cli.run("ps", "-a", "--format", "{{.Names}}").stdout.split()
    # dockerd's words: the plugin client's dial error, after its retries
    p = cli.run("network", "create", "-d", "berthtestnet", "pn9", check=False)
    assert p.returncode != 0 and "dial unix %s: connect:" % plug.sock in p.stderr
    p = cli.run("run", "--rm", "--network", "pn8", "busybox", "true", check=False)
    assert p.returncode != 0 and "dial unix %s: connect:" % plug.sock in p.stderr
    assert cli.run("network", "ls", "-q").stdout.split() == before
    assert cli.run("ps", "-q").stdout.split() == []


def test_global_scope_driver_needs_swarm(daemon):
    """dockerd without swarm refuses a multi-host (global scope) driver's network."""
    p = NetPlugin(daemon.plugin_dir, "berthtestglobal", daemon.tag, daemon.subnet(14), "--scope", "global")
    try:
        r = daemon.cli.run("network", "create", "-d", "berthtestglobal", "pglob", check=False)
        assert r.returncode != 0
        assert "Cannot create a multi-host network from a worker node. Please create the network from a manager node." in r.stderr
        assert p.calls("NetworkDriver.CreateNetwork") == []
        assert "pglob" not in daemon.cli.run("network", "ls", "--format", "{{.Name}}").stdout.split()
    finally:
        p.cleanup()


def test_unknown_plugin_is_not_found(daemon):
    p = daemon.cli.run("network", "create", "-d", "nosuchberthplugin", "pnx", check=False)
    assert p.returncode != 0 and 'plugin "nosuchberthplugin" not found' in p.stderr
    p = daemon.cli.run("network", "create", "--ipam-driver", "nosuchberthipam", "pnx", check=False)
    assert p.returncode != 0 and 'plugin "nosuchberthipam" not found' in p.stderr


def test_network_survives_berthd_restart(daemon, plug):
    cli = daemon.cli
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "pn10")
    daemon.stop()
    daemon.start()
    n = inspect(cli, "network", "pn10")
    assert n["Driver"] == "berthtestnet" and n["IPAM"]["Driver"] == "berthtestnet"
    pool = ipaddress.ip_network(daemon.subnet(10))
    out = cli.run("run", "--rm", "--network", "pn10", "busybox", "ip", "-o", "-4", "addr", "show", "eth0").stdout
    assert "%s/24" % (pool.network_address + 10) in out
    cli.run("network", "rm", "pn10")
    assert len(plug.calls("NetworkDriver.DeleteNetwork")) == 1
    assert len(plug.calls("IpamDriver.ReleasePool")) == 1
    assert links_with(daemon.tag) == []


def test_published_ports_go_to_the_driver(daemon, plug):
    """On a plugin's network the driver publishes ports (ProgramExternalConnectivity with
    libnetwork's portmap and exposed ports), revoked before Leave when the container stops."""
    cli = daemon.cli
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "pn11")
    cli.run("run", "-d", "--name", "ppub", "--network", "pn11", "-p", "18080:80", "-p", "127.0.0.1:18090-18091:90/udp",
            "--expose", "7000", "busybox", "sleep", "300")
    pec = plug.calls("NetworkDriver.ProgramExternalConnectivity")
    assert len(pec) == 1
    settings = inspect(cli, "container", "ppub")["NetworkSettings"]
    eid = settings["Networks"]["pn11"]["EndpointID"]
    # the driver publishes them; like dockerd, berth shows none for a plugin's endpoint
    assert settings["Ports"] == {}
    assert cli.run("port", "ppub").stdout.strip() == ""
    assert pec[0]["body"]["EndpointID"] == eid
    opts = pec[0]["body"]["Options"]
    pm = sorted(opts["com.docker.network.portmap"], key=lambda b: b["Port"])
    assert pm == [{"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 18080, "HostPortEnd": 18080},
                  {"Proto": 17, "IP": "", "Port": 90, "HostIP": "127.0.0.1", "HostPort": 18090, "HostPortEnd": 18091}]
    exposed = sorted((p["Proto"], p["Port"]) for p in opts["com.docker.network.endpoint.exposedports"])
    assert exposed == [(6, 80), (6, 7000), (17, 90)]
    # the same labels in CreateEndpoint's options and Join's (libnetwork's endpoint and sandbox labels)
    for m in ("NetworkDriver.CreateEndpoint", "NetworkDriver.Join"):
        o = plug.calls(m)[0]["body"]["Options"]
        assert sorted(o["com.docker.network.portmap"], key=lambda b: b["Port"]) == pm, m
        assert sorted((p["Proto"], p["Port"]) for p in o["com.docker.network.endpoint.exposedports"]) == exposed, m
    cli.run("rm", "-f", "ppub")
    deadline = time.time() + 5
    while time.time() < deadline and not plug.calls("NetworkDriver.DeleteEndpoint"):
        time.sleep(0.05)
    order = [c["method"] for c in plug.calls() if c["body"].get("EndpointID") == eid]
    assert order[-4:] == ["NetworkDriver.ProgramExternalConnectivity", "NetworkDriver.RevokeExternalConnectivity",
                          "NetworkDriver.Leave", "NetworkDriver.DeleteEndpoint"]
    cli.run("network", "rm", "pn11")


def test_running_container_across_berthd_kill9(daemon, plug):
    """A container on a plugin's network outlives kill -9 of berthd; removed afterwards, its
    endpoint is revoked, left, given back and deleted once each, as if berthd had stayed."""
    import signal
    cli = daemon.cli
    pool = ipaddress.ip_network(daemon.subnet(10))
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "pn12")
    cli.run("run", "-d", "--name", "psurv", "--network", "pn12", "-p", "18100:80", "busybox", "sleep", "300")
    eid = inspect(cli, "container", "psurv")["NetworkSettings"]["Networks"]["pn12"]["EndpointID"]
    daemon.stop(signal.SIGKILL)
    daemon.start()
    ep = inspect(cli, "container", "psurv")["NetworkSettings"]["Networks"]["pn12"]
    assert ep["EndpointID"] == eid and ep["IPAddress"] == str(pool.network_address + 10)
    assert "BerthSrcIfname" not in ep and "BerthExternal" not in ep
    assert "%s/24" % ep["IPAddress"] in cli.run("exec", "psurv", "ip", "-o", "-4", "addr", "show", "eth0").stdout
    cli.run("rm", "-f", "psurv")
    deadline = time.time() + 5
    while time.time() < deadline and not plug.calls("IpamDriver.ReleaseAddress"):
        time.sleep(0.05)
    time.sleep(0.3)
    for m in ("NetworkDriver.RevokeExternalConnectivity", "NetworkDriver.Leave", "NetworkDriver.DeleteEndpoint"):
        assert [c["body"]["EndpointID"] for c in plug.calls(m)] == [eid], m
    assert [c["body"]["Address"] for c in plug.calls("IpamDriver.ReleaseAddress")] == [ep["IPAddress"]]
    assert plug.calls("NetworkDriver.DeleteEndpoint")[0]["body"]["_ctr_back"] is True
    cli.run("network", "rm", "pn12")
    assert links_with(daemon.tag) == []


def test_failed_join_is_rolled_back(daemon, plug):
    """A Join the driver refuses: the container does not start, with the driver's words,
    and the endpoint and address it had got are given back once each."""
    cli = daemon.cli
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "-o",
            "berth.test.failjoin=sandbox refused", "pn13")
    p = cli.run("run", "--name", "pjoin", "--network", "pn13", "busybox", "true", check=False)
    assert p.returncode != 0 and "remote: sandbox refused" in p.stderr
    ce = plug.calls("NetworkDriver.CreateEndpoint")
    assert len(ce) == 1
    eid = ce[0]["body"]["EndpointID"]
    assert [c["body"]["EndpointID"] for c in plug.calls("NetworkDriver.DeleteEndpoint")] == [eid]
    assert plug.calls("NetworkDriver.Leave") == []  # no Join took
    addr = ce[0]["body"]["Interface"]["Address"].split("/")[0]
    assert [c["body"]["Address"] for c in plug.calls("IpamDriver.ReleaseAddress")] == [addr]
    assert inspect(cli, "container", "pjoin")["State"]["Running"] is False
    cli.run("rm", "pjoin")
    cli.run("network", "rm", "pn13")
    assert links_with(daemon.tag) == []


def test_driver_cannot_take_a_host_interface(daemon, plug):
    """A driver whose Join names the host's loopback or a bridge's port (its own veth end
    on its bridge) instead of the endpoint's interface: refused, the host keeps it."""
    cli = daemon.cli
    for i, src in enumerate(["lo", "host-end"]):
        net = "pnh%d" % i
        cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "-o",
                "berth.test.srcname=%s" % src, net)
        p = cli.run("run", "--rm", "--network", net, "busybox", "true", check=False)
        assert p.returncode != 0
        assert "is not one a network driver may give a container" in p.stderr, p.stderr
        assert subprocess.run(["ip", "link", "show", "lo"], capture_output=True).returncode == 0
        cli.run("network", "rm", net)
    assert links_with(daemon.tag) == []


def test_connect_second_network_and_prefix(daemon, plug):
    """A plugin network connected as a second network: its link takes the driver's
    DstPrefix with the container's interface index, and gives no default route."""
    cli = daemon.cli
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "-o", "berth.test.prefix=plg",
            "pn14")
    cli.run("run", "-d", "--name", "pconn", "busybox", "sleep", "300")
    cli.run("network", "connect", "pn14", "pconn")
    ep = inspect(cli, "container", "pconn")["NetworkSettings"]["Networks"]["pn14"]
    links = cli.run("exec", "pconn", "ip", "-o", "link").stdout
    assert ": plg1@" in links or ": plg1:" in links
    assert "%s/24" % ep["IPAddress"] in cli.run("exec", "pconn", "ip", "-o", "-4", "addr", "show", "plg1").stdout
    routes = cli.run("exec", "pconn", "ip", "route").stdout
    assert "default via %s dev eth0" % inspect(cli, "container", "pconn")["NetworkSettings"]["Networks"]["bridge"]["Gateway"] in routes
    assert "dev plg1" in routes and "default via %s" % ep["Gateway"] not in routes
    cli.run("network", "disconnect", "pn14", "pconn")
    assert "plg1" not in cli.run("exec", "pconn", "ip", "-o", "link").stdout
    assert len(plug.calls("NetworkDriver.DeleteEndpoint")) == 1
    assert plug.calls("NetworkDriver.DeleteEndpoint")[0]["body"]["_ctr_back"] is True
    cli.run("rm", "-f", "pconn")
    cli.run("network", "rm", "pn14")


def test_prune_removes_plugin_networks(daemon, plug):
    cli = daemon.cli
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "pn15")
    cli.run("network", "create", "-d", "berthtestnet", "--subnet", daemon.subnet(15), "pn16")
    out = cli.run("network", "prune", "-f").stdout
    assert "pn15" in out and "pn16" in out
    assert len(plug.calls("NetworkDriver.DeleteNetwork")) == 2
    assert len(plug.calls("IpamDriver.ReleasePool")) == 1
    assert links_with(daemon.tag) == []


def test_ipv6_on_a_plugin_network(daemon, plug):
    """--ipv6 with a network driver plugin: IPv6Data from berth's allocator, AddressIPv6 in
    CreateEndpoint, the driver's GatewayIPv6 and IPv6 static routes in the container."""
    cli = daemon.cli
    sub, sub6 = ipaddress.ip_network(daemon.subnet(16)), ipaddress.ip_network(daemon.subnet6(1))
    cli.run("network", "create", "-d", "berthtestnet", "--ipv6", "--subnet", str(sub), "--subnet", str(sub6), "pn17")
    n = inspect(cli, "network", "pn17")
    assert n["EnableIPv6"] is True and [c["Subnet"] for c in n["IPAM"]["Config"]] == [str(sub), str(sub6)]
    cn = plug.calls("NetworkDriver.CreateNetwork")[0]["body"]
    assert cn["Options"]["com.docker.network.enable_ipv6"] is True
    assert cn["IPv6Data"][0]["Pool"] == str(sub6)
    assert cn["IPv6Data"][0]["Gateway"] == "%s/64" % (sub6.network_address + 1)
    cli.run("run", "-d", "--name", "pv6web", "--network", "pn17", "busybox",
            "sh", "-c", "echo hello-v6 > /tmp/index.html; exec httpd -f -p 80 -h /tmp")
    ep = inspect(cli, "container", "pv6web")["NetworkSettings"]["Networks"]["pn17"]
    assert ep["GlobalIPv6Address"] == str(sub6.network_address + 2) and ep["GlobalIPv6PrefixLen"] == 64
    assert ep["IPv6Gateway"] == str(sub6.network_address + 1)
    ce = plug.calls("NetworkDriver.CreateEndpoint")[0]["body"]["Interface"]
    assert ce["AddressIPv6"] == "%s/64" % ep["GlobalIPv6Address"]
    assert "%s/64" % ep["GlobalIPv6Address"] in cli.run("exec", "pv6web", "ip", "-o", "-6", "addr", "show", "eth0").stdout
    routes6 = cli.run("exec", "pv6web", "ip", "-6", "route").stdout
    nxt6 = ipaddress.ip_network("%s/64" % (sub6.network_address + 2 ** 64))
    assert "default via %s dev eth0" % ep["IPv6Gateway"] in routes6
    assert "%s via %s dev eth0" % (nxt6, ep["IPv6Gateway"]) in routes6
    out = cli.run("run", "--rm", "--network", "pn17", "busybox", "sh", "-c",
                  "timeout 5 wget -qO- http://[%s]/; exit $?" % ep["GlobalIPv6Address"]).stdout
    assert out.strip() == "hello-v6"
    cli.run("rm", "-f", "pv6web")
    cli.run("network", "rm", "pn17")
    assert links_with(daemon.tag) == []


def test_ipv6_from_an_ipam_plugin(daemon, plug):
    """--ipv6 with an IPAM plugin: a second pool asked with V6, the endpoint's IPv6 address
    from it, both addresses and both pools given back."""
    cli = daemon.cli
    sub, sub6 = ipaddress.ip_network(daemon.subnet(17)), ipaddress.ip_network(daemon.subnet6(2))
    cli.run("network", "create", "-d", "berthtestnet", "--ipam-driver", "berthtestnet", "--ipv6", "--subnet", str(sub),
            "--subnet", str(sub6), "pn18")
    rp = plug.calls("IpamDriver.RequestPool")
    assert [(c["body"]["Pool"], c["body"]["V6"]) for c in rp] == [(str(sub), False), (str(sub6), True)]
    n = inspect(cli, "network", "pn18")
    assert [(c["Subnet"], c["Gateway"]) for c in n["IPAM"]["Config"]] == [
        (str(sub), str(sub.network_address + 1)), (str(sub6), str(sub6.network_address + 1))]
    cli.run("run", "-d", "--name", "pv6ipam", "--network", "pn18", "busybox",
            "sh", "-c", "echo hello-v6-ipam > /tmp/index.html; exec httpd -f -p 80 -h /tmp")
    ep = inspect(cli, "container", "pv6ipam")["NetworkSettings"]["Networks"]["pn18"]
    assert ep["IPAddress"] == str(sub.network_address + 10)
    assert ep["GlobalIPv6Address"] == str(sub6.network_address + 10)
    out = cli.run("run", "--rm", "--network", "pn18", "busybox", "sh", "-c",
                  "timeout 5 wget -qO- http://[%s]/; exit $?" % ep["GlobalIPv6Address"]).stdout
    assert out.strip() == "hello-v6-ipam"
    cli.run("rm", "-f", "pv6ipam")
    deadline = time.time() + 5
    while time.time() < deadline and len(plug.calls("IpamDriver.ReleaseAddress")) < 4:
        time.sleep(0.05)
    released = sorted(c["body"]["Address"] for c in plug.calls("IpamDriver.ReleaseAddress"))
    # the two containers' addresses (the --rm client got .11 and ::b)
    assert released == sorted([str(sub.network_address + 10), str(sub6.network_address + 10),
                               str(sub.network_address + 11), str(sub6.network_address + 11)])
    cli.run("network", "rm", "pn18")
    assert len(plug.calls("IpamDriver.ReleasePool")) == 2
    gws = [c["body"]["Address"] for c in plug.calls("IpamDriver.ReleaseAddress")][4:]
    assert sorted(gws) == sorted([str(sub.network_address + 1), str(sub6.network_address + 1)])
    assert links_with(daemon.tag) == []


def test_bridge_ipv6_from_an_ipam_plugin(daemon, plug):
    cli = daemon.cli
    sub, sub6 = ipaddress.ip_network(daemon.subnet(18)), ipaddress.ip_network(daemon.subnet6(3))
    cli.run("network", "create", "--ipam-driver", "berthtestnet", "--ipv6", "--subnet", str(sub), "--subnet", str(sub6),
            "pn19")
    out = cli.run("run", "--rm", "--network", "pn19", "busybox", "sh", "-c",
                  "ip -o -6 addr show eth0 scope global; timeout 5 ping -c1 -W2 %s >/dev/null && echo gw6-ok"
                  % (sub6.network_address + 1)).stdout
    assert "%s/64" % (sub6.network_address + 10) in out and "gw6-ok" in out
    deadline = time.time() + 5
    while time.time() < deadline and len(plug.calls("IpamDriver.ReleaseAddress")) < 2:
        time.sleep(0.05)
    assert sorted(c["body"]["Address"] for c in plug.calls("IpamDriver.ReleaseAddress")) == sorted(
        [str(sub.network_address + 10), str(sub6.network_address + 10)])
    cli.run("network", "rm", "pn19")
    assert len(plug.calls("IpamDriver.ReleasePool")) == 2


def test_ipam_plugin_gateway_and_aux_addresses(daemon, plug):
    """--gateway and --aux-address with an IPAM plugin: each asked of it (the gateway as
    libnetwork's RequestAddressType), each given back when the network goes."""
    cli = daemon.cli
    sub = ipaddress.ip_network(daemon.subnet(19))
    gw, aux = sub.network_address + 254, sub.network_address + 5
    cli.run("network", "create", "--ipam-driver", "berthtestnet", "--subnet", str(sub), "--gateway", str(gw),
            "--aux-address", "printer=%s" % aux, "pn20")
    ra = [(c["body"]["Address"], c["body"]["Options"]) for c in plug.calls("IpamDriver.RequestAddress")]
    assert ra == [(str(gw), {"RequestAddressType": "com.docker.network.gateway"}), (str(aux), None)]
    n = inspect(cli, "network", "pn20")
    assert n["IPAM"]["Config"][0]["Gateway"] == str(gw)
    assert n["IPAM"]["Config"][0]["AuxiliaryAddresses"] == {"printer": str(aux)}
    cli.run("network", "rm", "pn20")
    assert sorted(c["body"]["Address"] for c in plug.calls("IpamDriver.ReleaseAddress")) == sorted([str(gw), str(aux)])
    assert len(plug.calls("IpamDriver.ReleasePool")) == 1
