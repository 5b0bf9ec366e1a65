"""The macvlan and ipvlan drivers through the stock docker CLI, on a parent link the test
makes (its own name, removed after): containers on one network reach each other,
addresses, routes, the parents dockerd makes (802.1q "name.vid", "dm-<id>" dummies) and
dockerd's errors.

The parent is one end of a veth pair of the test's own (a dummy link when the kernel has
them): macvlan children in bridge mode switch between themselves whatever the parent is.
Tests of link kinds the running kernel lacks (ipvlan, 802.1q, dummy are modules that some
VM kernels leave out) are skipped and say so. Traffic goes only between the test's own
containers on the test's own links."""
import json
import os
import subprocess

import pytest

from conftest import TESTDATA


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield
    for c in docker.run("ps", "-aq").stdout.split():
        docker.run("rm", "-f", c, check=False)
    docker.run("network", "prune", "-f", check=False)


@pytest.fixture
def parent():
    """A link of the test's own, up (one end of a veth pair); removed, with anything on it,
    after the test."""
    name, peer = "bpd%d" % (os.getpid() % 100000), "bpq%d" % (os.getpid() % 100000)
    subprocess.run(["ip", "link", "del", name], capture_output=True)
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", peer], check=True)
    subprocess.run(["ip", "link", "set", peer, "up"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    yield name
    subprocess.run(["ip", "link", "del", name], capture_output=True)


def kernel_has(kind, parent):
    """Whether the running kernel makes links of @kind (on @parent where one is needed)."""
    probe = "bpk%d" % (os.getpid() % 100000)
    args = {"dummy": ["type", "dummy"], "ipvlan": ["link", parent, "type", "ipvlan"],
            "vlan": ["link", parent, "type", "vlan", "id", "4000"]}[kind]
    ok = subprocess.run(["ip", "link", "add", "name", probe, *args], capture_output=True).returncode == 0
    subprocess.run(["ip", "link", "del", probe], capture_output=True)
    return ok


def need(kind, parent):
    if not kernel_has(kind, parent):
        pytest.skip("this kernel makes no %s links" % kind)


def link_exists(name):
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def net_inspect(docker, name):
    return json.loads(docker.run("network", "inspect", name).stdout)[0]


def ctr_ip(docker, ctr, net):
    return json.loads(docker.run("inspect", ctr).stdout)[0]["NetworkSettings"]["Networks"][net]


def two_containers_talk(docker, net, extra=()):
    """A busybox httpd on @net and a wget from a second container on it."""
    docker.run("run", "-d", "--name", net + "-web", "--network", net, *extra, "busybox", "httpd", "-f", "-p", "80",
               "-h", "/etc")
    ep = ctr_ip(docker, net + "-web", net)
    host = json.loads(docker.run("inspect", net + "-web").stdout)[0]["Config"]["Hostname"]
    p = docker.run("run", "--rm", "--network", net, "busybox", "sh", "-c",
                   "ip -o link show eth0; ip route; timeout 5 wget -qO- http://%s/hostname; exit $?" % ep["IPAddress"])
    assert p.stdout.strip().splitlines()[-1] == host
    return ep, p.stdout


def test_macvlan_bridge_mode_containers_reach_each_other(berthd, docker, images, parent):
    sub = berthd.subnet(10)
    docker.run("network", "create", "-d", "macvlan", "-o", "parent=" + parent, "--subnet", sub, "mv")
    try:
        n = net_inspect(docker, "mv")
        assert n["Driver"] == "macvlan" and n["Options"] == {"parent": parent}
        assert not [k for k in n if k.startswith("Berth")]
        assert n["IPAM"]["Config"] == [{"Subnet": sub}]  # no gateway unless one is given (dockerd 28)
        ep, out = two_containers_talk(docker, "mv")
        assert ep["IPAddress"].startswith(sub.rsplit(".", 1)[0] + ".") and ep["IPPrefixLen"] == 24
        assert ep["Gateway"] == "" and ep["MacAddress"]
        assert "default" not in out  # no gateway, no default route
        # Each container's eth0 is a macvlan on the parent, with the MAC inspect shows.
        p = docker.run("exec", "mv-web", "cat", "/sys/class/net/eth0/address")
        assert p.stdout.strip() == ep["MacAddress"]
        assert json.loads(docker.run("network", "inspect", "mv").stdout)[0]["Containers"]
    finally:
        docker.run("rm", "-f", "mv-web", check=False)
    # The network and its containers come back after a berthd restart.
    berthd.stop()
    berthd.start()
    try:
        two_containers_talk(docker, "mv")
    finally:
        docker.run("rm", "-f", "mv-web", check=False)
        docker.run("network", "rm", "mv")
    assert link_exists(parent)  # the user's parent stays


def test_macvlan_ipv6_containers_reach_each_other(berthd, docker, images, parent):
    sub, sub6 = berthd.subnet(16), berthd.subnet6(16)
    docker.run("network", "create", "-d", "macvlan", "-o", "parent=" + parent, "--ipv6", "--subnet", sub,
               "--subnet", sub6, "mv6")
    try:
        n = net_inspect(docker, "mv6")
        assert n["EnableIPv6"] is True
        # No gateway unless one is given, for IPv6 too (dockerd 28).
        assert n["IPAM"]["Config"] == [{"Subnet": sub}, {"Subnet": sub6}]
        docker.run("run", "-d", "--name", "mv6-web", "--network", "mv6", "busybox", "httpd", "-f", "-p", "80",
                   "-h", "/etc")
        ep = ctr_ip(docker, "mv6-web", "mv6")
        prefix = sub6.split("::")[0] + ":"
        assert ep["GlobalIPv6Address"].startswith(prefix) and ep["GlobalIPv6PrefixLen"] == 64
        assert ep["IPv6Gateway"] == "" and ep["Gateway"] == ""
        host = json.loads(docker.run("inspect", "mv6-web").stdout)[0]["Config"]["Hostname"]
        p = docker.run("exec", "mv6-web", "ip", "-o", "-6", "addr", "show", "eth0")
        assert "inet6 %s/64" % ep["GlobalIPv6Address"] in p.stdout
        p = docker.run("run", "--rm", "--network", "mv6", "busybox", "sh", "-c",
                       "ip -6 route; timeout 5 wget -qO- http://[%s]/hostname; exit $?" % ep["GlobalIPv6Address"])
        assert p.stdout.strip().splitlines()[-1] == host
        assert "default" not in p.stdout  # no IPv6 gateway, no default route
    finally:
        docker.run("rm", "-f", "mv6-web", check=False)
        docker.run("network", "rm", "mv6")
    # With an IPv6 gateway: inspect shows it and the container routes through it.
    gw6 = sub6.replace("::/64", "::fe")
    docker.run("network", "create", "-d", "macvlan", "-o", "parent=" + parent, "--ipv6", "--subnet", sub,
               "--subnet", sub6, "--gateway", gw6, "mv6g")
    try:
        assert net_inspect(docker, "mv6g")["IPAM"]["Config"] == [{"Subnet": sub}, {"Subnet": sub6, "Gateway": gw6}]
        fixed6 = sub6.replace("::/64", "::42")
        docker.run("run", "-d", "--name", "mv6g-c", "--network", "mv6g", "--ip6", fixed6, "busybox", "sleep", "600")
        ep = ctr_ip(docker, "mv6g-c", "mv6g")
        assert ep["IPv6Gateway"] == gw6 and ep["GlobalIPv6Address"] == fixed6
        p = docker.run("exec", "mv6g-c", "ip", "-6", "route")
        assert "default via %s dev eth0" % gw6 in p.stdout
    finally:
        docker.run("rm", "-f", "mv6g-c", check=False)
        docker.run("network", "rm", "mv6g")


def test_ipvlan_l2_with_gateway_fixed_ip_and_default_route(berthd, docker, images, parent):
    need("ipvlan", parent)
    sub, gw = berthd.subnet(11), berthd.subnet(11).replace(".0/24", ".254")
    fixed = sub.replace(".0/24", ".77")
    docker.run("network", "create", "-d", "ipvlan", "-o", "parent=" + parent, "--subnet", sub, "--gateway", gw, "iv")
    try:
        n = net_inspect(docker, "iv")
        assert n["IPAM"]["Config"] == [{"Subnet": sub, "Gateway": gw}]
        ep, out = two_containers_talk(docker, "iv", extra=("--ip", fixed))
        assert ep["IPAddress"] == fixed and ep["Gateway"] == gw
        assert ep["MacAddress"] == ""  # ipvlan links share the parent's address
        assert "default via %s dev eth0" % gw in out
        # One ipvlan network per parent; a macvlan cannot share an ipvlan's parent.
        p = docker.run("network", "create", "-d", "ipvlan", "-o", "parent=" + parent, "iv2", check=False)
        assert p.returncode != 0
        assert "network di-%s is already using parent interface %s" % (n["Id"][:12], parent) in p.stderr
        p = docker.run("network", "create", "-d", "macvlan", "-o", "parent=" + parent, "mv2", check=False)
        assert p.returncode != 0 and "is already using parent interface %s" % parent in p.stderr
        p = docker.run("run", "--rm", "--network", "iv", "--mac-address", "02:42:ac:11:00:09", "busybox", "true",
                       check=False)
        assert p.returncode != 0 and "ipvlan interfaces do not support custom mac address assignment" in p.stderr
    finally:
        docker.run("rm", "-f", "iv-web", check=False)
        docker.run("network", "rm", "iv")


def test_ipvlan_l3_routes_through_the_device(berthd, docker, images, parent):
    need("ipvlan", parent)
    sub = berthd.subnet(12)
    docker.run("network", "create", "-d", "ipvlan", "-o", "parent=" + parent, "-o", "ipvlan_mode=l3",
               "-o", "ipvlan_flag=private", "--subnet", sub, "iv3")
    try:
        assert net_inspect(docker, "iv3")["Options"] == {"parent": parent, "ipvlan_mode": "l3", "ipvlan_flag": "private"}
        p = docker.run("run", "--rm", "--network", "iv3", "busybox", "ip", "route")
        assert "default dev eth0" in p.stdout
    finally:
        docker.run("network", "rm", "iv3")


def test_vlan_parent_comes_and_goes_with_its_network(berthd, docker, images, parent):
    need("vlan", parent)
    vlan = parent + ".10"
    docker.run("network", "create", "-d", "macvlan", "-o", "parent=" + vlan, "--subnet", berthd.subnet(13), "mvv")
    try:
        assert link_exists(vlan)
        assert "vlan protocol 802.1Q id 10" in subprocess.run(["ip", "-d", "link", "show", vlan],
                                                              capture_output=True, text=True).stdout
        two_containers_talk(docker, "mvv")
    finally:
        docker.run("rm", "-f", "mvv-web", check=False)
        docker.run("network", "rm", "mvv")
    assert not link_exists(vlan) and link_exists(parent)


def test_no_parent_gives_a_dummy_and_no_way_out(berthd, docker, images, parent):
    need("dummy", parent)
    sub = berthd.subnet(14)
    nid = docker.run("network", "create", "-d", "macvlan", "--subnet", sub, "--gateway", sub.replace(".0/24", ".1"),
                     "mvd").stdout.strip()
    dummy = "dm-" + nid[:12]
    try:
        assert link_exists(dummy)
        n = net_inspect(docker, "mvd")
        assert n["Options"] == {} and n["Internal"] is False
        _, out = two_containers_talk(docker, "mvd")
        assert "default" not in out
    finally:
        docker.run("rm", "-f", "mvd-web", check=False)
        docker.run("network", "rm", "mvd")
    assert not link_exists(dummy)


def test_internal_macvlan_has_no_default_route(berthd, docker, images, parent):
    sub = berthd.subnet(15)
    docker.run("network", "create", "-d", "macvlan", "--internal", "-o", "parent=" + parent, "--subnet", sub,
               "--gateway", sub.replace(".0/24", ".1"), "mvi")
    try:
        assert net_inspect(docker, "mvi")["Internal"] is True
        p = docker.run("run", "--rm", "--network", "mvi", "busybox", "ip", "route")
        assert "default" not in p.stdout and sub.split("/")[0] in p.stdout
    finally:
        docker.run("network", "rm", "mvi")


@pytest.mark.parametrize("args,message", [
    (["-d", "macvlan", "-o", "macvlan_mode=nosuch"],
     "requested macvlan mode 'nosuch' is not valid, 'bridge' mode is the macvlan driver default"),
    (["-d", "ipvlan", "-o", "ipvlan_mode=l4"], "requested ipvlan mode 'l4' is not valid, 'l2' mode is the ipvlan driver default"),
    (["-d", "ipvlan", "-o", "ipvlan_flag=nosuch"],
     "requested ipvlan flag 'nosuch' is not valid, 'bridge' is the ipvlan driver default"),
    (["-d", "macvlan", "-o", "parent=lo"], "loopback interface is not a valid macvlan parent link"),
    (["-d", "macvlan", "-o", "parent=bpnosuch0"], "invalid subinterface vlan name bpnosuch0, example formatting is eth0.10"),
    (["-d", "macvlan", "-o", "parent=bpnosuch0.10"], "-o parent interface was not found on the host: bpnosuch0"),
    (["-d", "ipvlan", "-o", "parent=PARENT.5000"], "vlan id must be between 1-4094, received: 5000"),
    (["-d", "ipvlan", "-o", "parent=PARENT.x"], "unable to parse a valid vlan id from: x (ex. eth0.10 for vlan 10)"),
])
def test_driver_errors_as_dockerd(berthd, docker, images, parent, args, message):
    args = [a.replace("PARENT", parent) for a in args]
    p = docker.run("network", "create", *args, "bad-net", check=False)
    assert p.returncode != 0 and message in p.stderr, p.stderr
    assert "bad-net" not in docker.run("network", "ls", "--format", "{{.Name}}").stdout
    assert not link_exists(parent + ".5000")


def test_passthru_takes_the_parent_alone(berthd, docker, images, parent):
    nid = docker.run("network", "create", "-d", "macvlan", "-o", "parent=" + parent, "-o", "macvlan_mode=passthru",
                     "mvp").stdout.strip()
    try:
        p = docker.run("network", "create", "-d", "macvlan", "-o", "parent=" + parent, "mvp2", check=False)
        assert p.returncode != 0
        assert "macvlan network %s is already using parent interface %s in mode passthru" % (nid, parent) in p.stderr
    finally:
        docker.run("network", "rm", "mvp")
    # Two bridge-mode networks may share a parent (dockerd 26 and later).
    docker.run("network", "create", "-d", "macvlan", "-o", "parent=" + parent, "mvs1")
    docker.run("network", "create", "-d", "macvlan", "-o", "parent=" + parent, "mvs2")
    p = docker.run("network", "create", "-d", "macvlan", "-o", "parent=" + parent, "-o", "macvlan_mode=passthru",
                   "mvs3", check=False)
    assert p.returncode != 0 and "cannot use mode passthru, macvlan network" in p.stderr
    docker.run("network", "rm", "mvs1", "mvs2")


def test_connect_link_local_ip_and_driver_opts(berthd, docker, images):
    docker.run("network", "create", "ll-a")
    docker.run("network", "create", "ll-b")
    docker.run("run", "-d", "--name", "ll-c", "--network", "ll-a", "--link-local-ip", "169.254.7.7", "busybox",
               "sleep", "600")
    try:
        p = docker.run("exec", "ll-c", "ip", "-o", "-4", "addr", "show", "eth0")
        assert "inet 169.254.7.7/16" in p.stdout
        docker.run("network", "connect", "--link-local-ip", "169.254.8.8", "--driver-opt", "com.example.color=blue",
                   "ll-b", "ll-c")
        ep = ctr_ip(docker, "ll-c", "ll-b")
        assert ep["IPAMConfig"]["LinkLocalIPs"] == ["169.254.8.8"]
        assert ep["DriverOpts"] == {"com.example.color": "blue"}
        assert "inet 169.254.8.8/16" in docker.run("exec", "ll-c", "ip", "-o", "-4", "addr", "show", "eth1").stdout
        docker.run("network", "disconnect", "ll-b", "ll-c")
        # Refused honestly: bad addresses, and driver options berth does not act on.
        p = docker.run("network", "connect", "--link-local-ip", "169.254.x", "ll-b", "ll-c", check=False)
        assert p.returncode != 0 and "invalid link-local IP address: 169.254.x" in p.stderr
        p = docker.run("network", "connect", "--driver-opt", "com.docker.network.endpoint.ifname=foo0", "ll-b", "ll-c",
                       check=False)
        assert p.returncode != 0 and "not supported by berth" in p.stderr
        assert "ll-b" not in json.loads(docker.run("inspect", "ll-c").stdout)[0]["NetworkSettings"]["Networks"]
    finally:
        docker.run("rm", "-f", "ll-c", check=False)
        docker.run("network", "rm", "ll-a", "ll-b", check=False)


def test_kill9_berthd_keeps_a_macvlan_containers_address(fresh_daemon, parent):
    import signal
    from conftest import DockerCLI
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cli.run("network", "create", "-d", "macvlan", "-o", "parent=" + parent, "--subnet", d.subnet(1), "kmv")
        cli.run("run", "-d", "--name", "kmw", "--network", "kmv", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
        ip = ctr_ip(cli, "kmw", "kmv")["IPAddress"]
        d.stop(sig=signal.SIGKILL)
        d.start()
        info = json.loads(cli.run("inspect", "kmw").stdout)[0]
        assert info["State"]["Running"] and info["NetworkSettings"]["Networks"]["kmv"]["IPAddress"] == ip
        p = cli.run("run", "--rm", "--network", "kmv", "busybox", "sh", "-c",
                    "ip -o -4 addr show eth0; timeout 5 wget -qO- http://%s/hostname; exit $?" % ip)
        assert "inet %s/" % ip not in p.stdout  # no address is handed out twice
        assert info["Config"]["Hostname"] in p.stdout
        cli.run("rm", "-f", "kmw")
        cli.run("network", "rm", "kmv")
    finally:
        cli.cleanup()
