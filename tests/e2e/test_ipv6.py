"""IPv6 on bridge networks, through the stock docker CLI and docker-py: --ipv6 networks
(with a ULA from the daemon's pools or --subnet), several subnets, --aux-address, --ip6,
connect --ip6, published ports on IPv6, AAAA/PTR from the embedded DNS, /etc/hosts, the
default bridge with --ipv6, and a kill -9 of berthd.

Subnets are ULAs only, unique to each test daemon (conftest.pick_test_net's fdNN::/48);
traffic goes only to the test's own containers and to its daemon's bridge addresses."""
import ipaddress
import json
import os
import signal
import socket
import subprocess

import pytest

from conftest import TESTDATA, DockerCLI


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield
    for c in docker.run("ps", "-aq").stdout.split():
        docker.run("rm", "-f", c, check=False)
    docker.run("network", "prune", "-f", check=False)


def inspect(docker, name, kind=None):
    args = [kind, "inspect", name] if kind else ["inspect", name]
    return json.loads(docker.run(*args).stdout)[0]


def sh(docker, script, network=None, check=True, extra=()):
    opts = ["--network", network] if network else []
    # sh stays pid 1: busybox timeout execs its command, and pid 1 ignores SIGTERM.
    return docker.run("run", "--rm", *opts, *extra, "busybox", "sh", "-c", script + "; exit $?", check=check)


def web(docker, name, network, extra=()):
    """A busybox httpd serving /etc (its hostname at /hostname)."""
    docker.run("run", "-d", "--name", name, "--network", network, *extra, "busybox", "httpd", "-f", "-p", "80",
               "-h", "/etc")


def pool6(berthd):
    return ipaddress.ip_network("fd%02x::/48" % berthd.net)


def http_get(host, port):
    """GET /hostname from the host itself (a local address of the test daemon's bridge)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect((host, port))
        s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace")
    finally:
        s.close()


def test_ipv6_network_from_the_pools_and_inspect_shape(berthd, docker, images):
    docker.run("network", "create", "--ipv6", "p6")
    try:
        n = inspect(docker, "p6", "network")
        assert n["EnableIPv6"] is True
        cfg = n["IPAM"]["Config"]
        assert len(cfg) == 2
        v4, v6 = cfg  # dockerd lists the IPv4 entry first
        assert ipaddress.ip_network(v4["Subnet"]).version == 4
        sub6 = ipaddress.ip_network(v6["Subnet"])
        # dockerd 27+: a /64 from the default IPv6 pool (here the daemon's fdNN::/48).
        assert sub6.prefixlen == 64 and sub6.subnet_of(pool6(berthd))
        assert v6["Gateway"] == str(sub6[1])
        assert set(v6) == {"Subnet", "Gateway"}
        # A second one gets the next /64; the bridge carries the gateway.
        docker.run("network", "create", "--ipv6", "p6b")
        sub6b = ipaddress.ip_network(inspect(docker, "p6b", "network")["IPAM"]["Config"][1]["Subnet"])
        assert sub6b != sub6 and sub6b.subnet_of(pool6(berthd))
        br = "br-" + n["Id"][:12]
        addrs = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", br], capture_output=True, text=True).stdout
        assert "%s/64" % sub6[1] in addrs
        # Without --ipv6: IPv4 only, as before.
        docker.run("network", "create", "p4")
        n4 = inspect(docker, "p4", "network")
        assert n4["EnableIPv6"] is False and len(n4["IPAM"]["Config"]) == 1
    finally:
        docker.run("network", "rm", "p6", "p6b", "p4", check=False)
    # Removing the network removes its bridge.
    assert "br-" + n["Id"][:12] not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


def test_two_containers_talk_over_ipv6(berthd, docker, images):
    sub6 = berthd.subnet6(1)
    docker.run("network", "create", "--ipv6", "--subnet", berthd.subnet(1), "--subnet", sub6, "t6")
    try:
        web(docker, "t6-web", "t6")
        ep = inspect(docker, "t6-web")["NetworkSettings"]["Networks"]["t6"]
        net6 = ipaddress.ip_network(sub6)
        addr = ep["GlobalIPv6Address"]
        assert ipaddress.ip_address(addr) in net6 and addr != str(net6[1])
        assert ep["GlobalIPv6PrefixLen"] == 64 and ep["IPv6Gateway"] == str(net6[1])
        # Top-level legacy fields describe the default bridge only.
        top = inspect(docker, "t6-web")["NetworkSettings"]
        assert top["GlobalIPv6Address"] == "" and top["LinkLocalIPv6Address"] == ""
        hostname = inspect(docker, "t6-web")["Config"]["Hostname"]
        p = sh(docker, "ip -6 -o addr show eth0; ip -6 route; cat /etc/hosts; timeout 5 wget -qO- http://[%s]/hostname"
               % addr, network="t6")
        assert hostname in p.stdout.splitlines()[-1]
        assert "default via %s dev eth0" % net6[1] in p.stdout
        assert "tentative" not in p.stdout  # no duplicate address detection
        mine = [l.split()[3] for l in p.stdout.splitlines() if " inet6 " in l and "scope global" in l]
        assert len(mine) == 1 and ipaddress.ip_interface(mine[0]).ip in net6
        own = str(ipaddress.ip_interface(mine[0]).ip)
        # /etc/hosts: dockerd's IPv6 localhost lines and the container's IPv6 address.
        assert "::1\tlocalhost ip6-localhost ip6-loopback" in p.stdout and "ff02::2\tip6-allrouters" in p.stdout
        hosts = [l for l in p.stdout.splitlines() if l.startswith(own + "\t")]
        assert len(hosts) == 1
        # The network shows both addresses of each container.
        c = inspect(docker, "t6", "network")["Containers"]
        ent = [v for v in c.values() if v["Name"] == "t6-web"][0]
        assert ent["IPv6Address"] == "%s/64" % addr and ent["IPv4Address"] == ep["IPAddress"] + "/24"
    finally:
        docker.run("rm", "-f", "t6-web", check=False)
        docker.run("network", "rm", "t6", check=False)


def test_ip6_on_run_and_on_connect(berthd, docker, client, images):
    sub_a, sub_b = ipaddress.ip_network(berthd.subnet6(2)), ipaddress.ip_network(berthd.subnet6(3))
    docker.run("network", "create", "--ipv6", "--subnet", berthd.subnet(2), "--subnet", str(sub_a), "i6a")
    docker.run("network", "create", "--ipv6", "--subnet", berthd.subnet(3), "--subnet", str(sub_b), "i6b")
    try:
        want = str(sub_a[0x42])
        docker.run("run", "-d", "--name", "i6", "--network", "i6a", "--ip6", want, "busybox", "sleep", "600")
        ep = inspect(docker, "i6")["NetworkSettings"]["Networks"]["i6a"]
        assert ep["GlobalIPv6Address"] == want and ep["IPAMConfig"]["IPv6Address"] == want
        assert want in docker.run("exec", "i6", "ip", "-6", "-o", "addr", "show", "eth0").stdout
        # The same address twice, and one outside the subnet: dockerd's errors.
        p = docker.run("run", "--rm", "--network", "i6a", "--ip6", want, "busybox", "true", check=False)
        assert p.returncode != 0 and "Address already in use" in p.stderr
        p = docker.run("run", "--rm", "--network", "i6a", "--ip6", str(sub_b[5]), "busybox", "true", check=False)
        assert p.returncode != 0 and "does not belong to any of this network's subnets" in p.stderr
        p = docker.run("run", "--rm", "--ip6", str(sub_a[7]), "busybox", "true", check=False)
        assert p.returncode != 0 and "user specified IP address is supported on user defined networks only" in p.stderr
        # connect --ip6 on a running container (docker CLI) and through docker-py.
        want_b = str(sub_b[0x43])
        docker.run("network", "connect", "--ip6", want_b, "i6b", "i6")
        ep = inspect(docker, "i6")["NetworkSettings"]["Networks"]["i6b"]
        assert ep["GlobalIPv6Address"] == want_b and ep["IPAMConfig"]["IPv6Address"] == want_b
        assert want_b in docker.run("exec", "i6", "ip", "-6", "-o", "addr", "show", "eth1").stdout
        docker.run("network", "disconnect", "i6b", "i6")
        c = client.containers.get("i6")
        want_py = str(sub_b[0x44])
        client.networks.get("i6b").connect(c, ipv6_address=want_py)
        assert want_py in docker.run("exec", "i6", "ip", "-6", "-o", "addr").stdout
        # The address goes back to the pool when the container leaves.
        docker.run("rm", "-f", "i6")
        docker.run("run", "-d", "--name", "i6", "--network", "i6a", "--ip6", want, "busybox", "sleep", "600")
    finally:
        docker.run("rm", "-f", "i6", check=False)
        docker.run("network", "rm", "i6a", "i6b", check=False)


def test_aux_addresses_are_never_handed_out(berthd, docker, images):
    # A /125 (8 addresses) and a /29: ::0 and ::1 (gateway) are taken, the aux ones too.
    base6 = ipaddress.ip_network(berthd.subnet6(4))
    sub6 = ipaddress.ip_network("%s/125" % base6[0])
    sub4 = ipaddress.ip_network("10.%d.204.0/29" % berthd.net)
    aux6, aux4 = str(sub6[2]), str(sub4[2])
    docker.run("network", "create", "--ipv6", "--subnet", str(sub4), "--subnet", str(sub6),
               "--aux-address", "r4=%s" % aux4, "--aux-address", "r6=%s" % aux6, "ax")
    try:
        cfg = inspect(docker, "ax", "network")["IPAM"]["Config"]
        assert cfg[0]["AuxiliaryAddresses"] == {"r4": aux4}
        assert cfg[1]["AuxiliaryAddresses"] == {"r6": aux6}
        # Asked for explicitly, an aux address is in use.
        p = docker.run("run", "--rm", "--network", "ax", "--ip6", aux6, "busybox", "true", check=False)
        assert p.returncode != 0 and "Address already in use" in p.stderr
        got4, got6 = set(), set()
        for i in range(4):  # the /29 has 4 free addresses once .0, .1 (gw), .2 (aux) and .7 are out
            docker.run("run", "-d", "--name", "ax%d" % i, "--network", "ax", "busybox", "sleep", "600")
            ep = inspect(docker, "ax%d" % i)["NetworkSettings"]["Networks"]["ax"]
            got4.add(ep["IPAddress"])
            got6.add(ep["GlobalIPv6Address"])
        assert aux4 not in got4 and aux6 not in got6
        assert got6 == {str(sub6[i]) for i in (3, 4, 5, 6)}
        # Released addresses come back; the aux ones stay reserved.
        docker.run("rm", "-f", "ax0")
        docker.run("run", "-d", "--name", "ax4", "--network", "ax", "busybox", "sleep", "600")
        assert inspect(docker, "ax4")["NetworkSettings"]["Networks"]["ax"]["GlobalIPv6Address"] != aux6
    finally:
        for i in range(5):
            docker.run("rm", "-f", "ax%d" % i, check=False)
        docker.run("network", "rm", "ax", check=False)


def test_subnet_errors(berthd, docker, client, images):
    sub6 = berthd.subnet6(5)
    docker.run("network", "create", "--ipv6", "--subnet", sub6, "e6")
    try:
        def fails(*args):
            p = docker.run("network", "create", *args, check=False)
            assert p.returncode != 0, p.stdout
            return p.stderr
        # Overlaps refused, within the family (a /80 inside the /64).
        net = ipaddress.ip_network(sub6)
        inner = "%s/80" % net[0x10000 << 32]
        assert "Pool overlaps with other one on this address space" in fails("--ipv6", "--subnet", sub6, "e6x")
        assert "Pool overlaps with other one on this address space" in fails("--ipv6", "--subnet", inner, "e6x")
        # The bridge driver takes one subnet of each family.
        two = fails("--ipv6", "--subnet", berthd.subnet6(6), "--subnet", berthd.subnet6(7), "e6x")
        assert "bridge driver doesnt support multiple subnets" in two
        assert "bridge driver doesnt support multiple subnets" in fails("--subnet", berthd.subnet(6), "--subnet",
                                                                        berthd.subnet(7), "e6x")
        assert "IPv6 is not enabled" in fails("--subnet", berthd.subnet6(6), "e6x")
        other = ipaddress.ip_network(berthd.subnet6(7))
        # (The CLI matches gateways and aux addresses to subnets itself; the API checks again.)
        assert "no matching subnet" in fails("--ipv6", "--subnet", berthd.subnet6(6), "--gateway", str(other[1]),
                                             "e6x")
        import docker as dockerpy

        def api_fails(pool):
            with pytest.raises(dockerpy.errors.APIError) as e:
                client.api.create_network("e6x", enable_ipv6=True, ipam=dockerpy.types.IPAMConfig(pool_configs=[pool]))
            assert e.value.status_code == 400
            return str(e.value)
        assert "doesn't contain this address" in api_fails(
            dockerpy.types.IPAMPool(subnet=berthd.subnet6(6), gateway=str(other[1])))
        assert "doesn't contain this address" in api_fails(
            dockerpy.types.IPAMPool(subnet=berthd.subnet6(6), aux_addresses={"a": str(other[3])}))
        assert "it should be %s" % berthd.subnet6(6) in api_fails(
            dockerpy.types.IPAMPool(subnet="%s/64" % ipaddress.ip_network(berthd.subnet6(6))[1]))
        many = {"a%d" % i: str(ipaddress.ip_network(berthd.subnet6(6))[i + 2]) for i in range(4097)}
        assert "too many auxiliary addresses" in api_fails(
            dockerpy.types.IPAMPool(subnet=berthd.subnet6(6), aux_addresses=many))
        # docker-py: an overlap is refused with the API's status.
        ipam = dockerpy.types.IPAMConfig(pool_configs=[dockerpy.types.IPAMPool(subnet=sub6)])
        with pytest.raises(dockerpy.errors.APIError) as e:
            client.networks.create("e6y", enable_ipv6=True, ipam=ipam)
        assert e.value.status_code == 403
        # Nothing was made by the refusals.
        names = docker.run("network", "ls", "--format", "{{.Name}}").stdout.split()
        assert "e6x" not in names and "e6y" not in names
    finally:
        docker.run("network", "rm", "e6", check=False)


def test_published_ports_on_ipv6(berthd, docker, images):
    sub6 = ipaddress.ip_network(berthd.subnet6(8))
    docker.run("network", "create", "--ipv6", "--subnet", berthd.subnet(8), "--subnet", str(sub6), "pp6")
    port = 20000 + berthd.net * 10
    try:
        web(docker, "pp6-web", "pp6", extra=("-p", "%d:80" % port, "-p", "[::]:%d:80" % (port + 1)))
        hostname = inspect(docker, "pp6-web")["Config"]["Hostname"]
        # HostIp "" means both families, one port for both, as dockerd shows them.
        out = docker.run("port", "pp6-web", "80/tcp").stdout.split()
        assert sorted(out) == sorted(["0.0.0.0:%d" % port, "[::]:%d" % port, "[::]:%d" % (port + 1)])
        ports = inspect(docker, "pp6-web")["NetworkSettings"]["Ports"]["80/tcp"]
        assert {"HostIp": "0.0.0.0", "HostPort": str(port)} in ports
        assert {"HostIp": "::", "HostPort": str(port)} in ports
        assert {"HostIp": "::", "HostPort": str(port + 1)} in ports
        # The kernel forwards IPv6 to the container's IPv6 address: reach it at the
        # daemon's bridge address (a local address of this host) and at 127.0.0.1.
        gw6 = str(sub6[1])
        assert hostname in http_get(gw6, port)
        assert hostname in http_get(gw6, port + 1)
        assert hostname in http_get("127.0.0.1", port)
        # [::] only: no IPv4 binding.
        with pytest.raises(OSError):
            http_get("127.0.0.1", port + 1)
        # The same IPv6 port twice: dockerd's message.
        p = docker.run("run", "-d", "--name", "pp6-dup", "--network", "pp6", "-p", "[::]:%d:80" % (port + 1),
                       "busybox", "sleep", "60", check=False)
        assert p.returncode != 0 and "port is already allocated" in p.stderr
        docker.run("rm", "-f", "pp6-dup", check=False)
        # ::1 cannot be forwarded by the kernel (no userland proxy): an honest refusal.
        p = docker.run("run", "--rm", "--network", "pp6", "-p", "[::1]:%d:80" % (port + 2), "busybox", "true",
                       check=False)
        assert p.returncode != 0 and "IPv6 loopback" in p.stderr
        # A container without IPv6: HostIp "" gives 0.0.0.0 only, [::] nothing (dockerd with
        # userland-proxy false leaves out what the kernel cannot forward to it).
        docker.run("network", "create", "--subnet", berthd.subnet(9), "pp4")
        web(docker, "pp4-web", "pp4", extra=("-p", "%d:80" % (port + 3), "-p", "[::]:%d:80" % (port + 4)))
        assert docker.run("port", "pp4-web").stdout.split() == ["80/tcp", "->", "0.0.0.0:%d" % (port + 3)]
        assert inspect(docker, "pp4-web")["Config"]["Hostname"] in http_get("127.0.0.1", port + 3)
        docker.run("rm", "-f", "pp6-web", "pp4-web")
        # Gone with the containers: the rules and the reservations.
        table = subprocess.run(["nft", "list", "table", "inet", berthd.nft_table()], capture_output=True,
                               text=True).stdout
        assert ". %d" % port not in table and ". %d" % (port + 1) not in table
        s = socket.socket(socket.AF_INET6)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::", port + 1))
        s.close()
    finally:
        docker.run("rm", "-f", "pp6-web", "pp4-web", "pp6-dup", check=False)
        docker.run("network", "rm", "pp6", "pp4", check=False)


def test_networks_are_isolated_and_internal_has_no_route_over_ipv6(berthd, docker, images):
    docker.run("network", "create", "--ipv6", "--subnet", berthd.subnet(10), "--subnet", berthd.subnet6(10), "iso1")
    docker.run("network", "create", "--ipv6", "--internal", "--subnet", berthd.subnet(11), "--subnet",
               berthd.subnet6(11), "iso2")
    try:
        web(docker, "iso-web", "iso1")
        addr = inspect(docker, "iso-web")["NetworkSettings"]["Networks"]["iso1"]["GlobalIPv6Address"]
        p = sh(docker, "ip -6 route; timeout 3 wget -qO- http://[%s]/hostname" % addr, network="iso2", check=False)
        assert p.returncode != 0
        assert "default" not in p.stdout  # --internal: no route out
        assert inspect(docker, "iso-web")["Config"]["Hostname"] in sh(
            docker, "timeout 5 wget -qO- http://[%s]/hostname" % addr, network="iso1").stdout
    finally:
        docker.run("rm", "-f", "iso-web", check=False)
        docker.run("network", "rm", "iso1", "iso2", check=False)


def test_embedded_dns_answers_aaaa_and_ip6_ptr(berthd, docker, images):
    docker.run("network", "create", "--ipv6", "--subnet", berthd.subnet(12), "--subnet", berthd.subnet6(12), "dn6")
    docker.run("network", "create", "--subnet", berthd.subnet(13), "dn4")
    try:
        docker.run("run", "-d", "--name", "dn6-a", "--network", "dn6", "--network-alias", "alias6", "busybox",
                   "sleep", "600")
        docker.run("run", "-d", "--name", "dn4-a", "--network", "dn4", "busybox", "sleep", "600")
        addr = inspect(docker, "dn6-a")["NetworkSettings"]["Networks"]["dn6"]["GlobalIPv6Address"]
        v4 = inspect(docker, "dn6-a")["NetworkSettings"]["Networks"]["dn6"]["IPAddress"]
        p = sh(docker, "timeout 5 nslookup -type=aaaa dn6-a 127.0.0.11; timeout 5 nslookup -type=aaaa alias6 "
               "127.0.0.11; timeout 5 nslookup -type=a dn6-a 127.0.0.11", network="dn6")
        answers = [l.split()[-1] for l in p.stdout.splitlines() if l.startswith("Address:") and "#" not in l
                   and "127.0.0.11" not in l]
        assert answers == [addr, addr, v4]
        rev = ipaddress.ip_address(addr).reverse_pointer
        p = sh(docker, "timeout 5 nslookup %s 127.0.0.11" % addr, network="dn6")
        assert rev in p.stdout and "name = dn6-a.dn6" in p.stdout
        # A container without IPv6: its name exists, with no AAAA record.
        docker.run("network", "connect", "dn4", "dn6-a")
        p = sh(docker, "timeout 5 nslookup -type=aaaa dn4-a 127.0.0.11", network="dn4", check=False)
        assert "NXDOMAIN" not in p.stdout and "Address: " not in p.stdout.split("Name:")[-1]
    finally:
        docker.run("rm", "-f", "dn6-a", "dn4-a", check=False)
        docker.run("network", "rm", "dn6", "dn4", check=False)


def test_default_bridge_with_ipv6_and_kill9_keeps_addresses(fresh_daemon):
    probe = fresh_daemon(start=False)
    fixed = probe.subnet6(20)
    probe.args += ["--ipv6", "--fixed-cidr-v6", fixed]
    d = probe.start()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        br = inspect(cli, "bridge", "network")
        assert br["EnableIPv6"] is True
        assert br["IPAM"]["Config"][1] == {"Subnet": fixed, "Gateway": str(ipaddress.ip_network(fixed)[1])}
        port = 21000 + d.net * 10
        cli.run("run", "-d", "--name", "db", "-p", "%d:80" % port, "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
        ns = inspect(cli, "db")["NetworkSettings"]
        gw6 = str(ipaddress.ip_network(fixed)[1])
        hostname = inspect(cli, "db")["Config"]["Hostname"]
        assert hostname in http_get(gw6, port)
        # The default bridge fills the legacy top-level fields too.
        assert ipaddress.ip_address(ns["GlobalIPv6Address"]) in ipaddress.ip_network(fixed)
        assert ns["GlobalIPv6PrefixLen"] == 64 and ns["IPv6Gateway"] == str(ipaddress.ip_network(fixed)[1])
        assert ns["Networks"]["bridge"]["GlobalIPv6Address"] == ns["GlobalIPv6Address"]
        addr = ns["GlobalIPv6Address"]
        # And a user network with IPv6 on the same daemon, through docker-py.
        import docker as dockerpy
        client = dockerpy.DockerClient(base_url=d.host, version="auto", timeout=30)
        try:
            client.networks.create("kn6", enable_ipv6=True)
            c = client.containers.run("busybox", ["sleep", "600"], name="kc", network="kn6", detach=True)
            kaddr = client.api.inspect_container(c.id)["NetworkSettings"]["Networks"]["kn6"]["GlobalIPv6Address"]
            assert ipaddress.ip_address(kaddr) in ipaddress.ip_network("fd%02x::/48" % d.net)
        finally:
            client.close()
        d.stop(sig=signal.SIGKILL)
        # Published ports are forwarded by the kernel while berthd is down, IPv6 too.
        assert hostname in http_get(gw6, port)
        d.start()
        ns = inspect(cli, "db")["NetworkSettings"]
        assert ns["GlobalIPv6Address"] == addr
        assert sorted(cli.run("port", "db").stdout.split()) == sorted(
            ["80/tcp", "->", "0.0.0.0:%d" % port, "80/tcp", "->", "[::]:%d" % port])
        assert hostname in http_get(gw6, port)
        # The reservation is held again: the port is not free for another program.
        s6 = socket.socket(socket.AF_INET6)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        with pytest.raises(OSError):
            s6.bind(("::", port))
        s6.close()
        hosts = cli.run("exec", "db", "cat", "/etc/hosts").stdout
        assert "%s\t%s" % (addr, hostname) in hosts
        assert inspect(cli, "kc")["NetworkSettings"]["Networks"]["kn6"]["GlobalIPv6Address"] == kaddr
        # Still reachable, and no address is handed out twice after the restart.
        p = cli.run("run", "--rm", "busybox", "sh", "-c",
                    "ip -6 -o addr show eth0; timeout 5 wget -qO- http://[%s]/hostname; exit $?" % addr)
        assert inspect(cli, "db")["Config"]["Hostname"] in p.stdout
        assert addr + "/" not in p.stdout
        p = cli.run("run", "--rm", "--network", "kn6", "busybox", "ip", "-6", "-o", "addr", "show", "eth0")
        assert kaddr + "/" not in p.stdout
        cli.run("rm", "-f", "db", "kc")
        cli.run("network", "rm", "kn6")
    finally:
        cli.run("rm", "-f", "db", "kc", check=False)
        cli.cleanup()


def test_daemon_json_ipv6_takes_a_ula_from_the_pools(fresh_daemon):
    d = fresh_daemon(config='{"ipv6": true}')
    cli = DockerCLI(d.host)
    try:
        cfg = inspect(cli, "bridge", "network")["IPAM"]["Config"]
        sub6 = ipaddress.ip_network(cfg[1]["Subnet"])
        assert sub6.prefixlen == 64 and sub6.subnet_of(ipaddress.ip_network("fd%02x::/48" % d.net))
    finally:
        cli.cleanup()
    # ip6tables=false cannot be honoured (berth's table is inet): refused at start.
    bad = fresh_daemon(config='{"ip6tables": false}', start=False)
    with pytest.raises(RuntimeError) as e:
        bad.start()
    assert "ip6tables" in str(e.value)


def test_ip_range_gateway_and_a_v6_subnet_from_the_pools(berthd, docker, images):
    sub6 = ipaddress.ip_network(berthd.subnet6(14))
    rng = ipaddress.ip_network("%s/120" % sub6[0x1000])
    gw = str(sub6[0xfffe])
    docker.run("network", "create", "--ipv6", "--subnet", str(sub6), "--ip-range", str(rng), "--gateway", gw, "rg6")
    # --ipv6 with an IPv4 subnet only: the IPv6 one comes from the pools.
    docker.run("network", "create", "--ipv6", "--subnet", berthd.subnet(15), "half6")
    try:
        v6 = inspect(docker, "rg6", "network")["IPAM"]["Config"][1]
        assert v6 == {"Subnet": str(sub6), "IPRange": str(rng), "Gateway": gw}
        docker.run("run", "-d", "--name", "rg6-c", "--network", "rg6", "busybox", "sleep", "600")
        ep = inspect(docker, "rg6-c")["NetworkSettings"]["Networks"]["rg6"]
        assert ipaddress.ip_address(ep["GlobalIPv6Address"]) in rng and ep["IPv6Gateway"] == gw
        assert "default via %s" % gw in docker.run("exec", "rg6-c", "ip", "-6", "route").stdout
        half = inspect(docker, "half6", "network")["IPAM"]["Config"]
        assert half[0]["Subnet"] == berthd.subnet(15)
        assert ipaddress.ip_network(half[1]["Subnet"]).subnet_of(pool6(berthd))
    finally:
        docker.run("rm", "-f", "rg6-c", check=False)
        docker.run("network", "rm", "rg6", "half6", check=False)


def test_icc_false_drops_ipv6_inside_the_network(berthd, docker, images):
    docker.run("network", "create", "--ipv6", "--subnet", berthd.subnet(16), "--subnet", berthd.subnet6(16),
               "-o", "com.docker.network.bridge.enable_icc=false", "noicc6")
    try:
        web(docker, "noicc6-web", "noicc6")
        addr = inspect(docker, "noicc6-web")["NetworkSettings"]["Networks"]["noicc6"]["GlobalIPv6Address"]
        p = sh(docker, "timeout 3 wget -qO- http://[%s]/hostname" % addr, network="noicc6", check=False)
        assert p.returncode != 0
    finally:
        docker.run("rm", "-f", "noicc6-web", check=False)
        docker.run("network", "rm", "noicc6", check=False)


def test_ipv6_upstream_resolver(fresh_daemon):
    """A host resolv.conf naming only ::1: berthd forwards there over IPv6."""
    import struct
    import tempfile
    import threading
    srv = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        srv.bind(("::1", 53))
    except OSError as e:
        srv.close()
        pytest.skip("[::1]:53 is taken on this host: %s" % e)
    srv.settimeout(0.2)
    seen, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, peer = srv.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            i, labels = 12, []
            while i < len(data) and data[i]:
                labels.append(data[i + 1:i + 1 + data[i]].decode(errors="replace"))
                i += 1 + data[i]
            name = ".".join(labels).lower()
            seen.append(name)
            qtype = struct.unpack("!H", data[i + 1:i + 3])[0] if i + 3 <= len(data) else 0
            an = 1 if name == "up6.test" and qtype == 1 else 0
            out = data[:2] + struct.pack("!HHHHH", 0x8180 if name == "up6.test" else 0x8183, 1, an, 0, 0)
            out += data[12:i + 5]
            if an:
                out += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("192.0.2.66")
            srv.sendto(out, peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    base = tempfile.mkdtemp(prefix="berth-e2e-dns6-")
    resolv = os.path.join(base, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver ::1\n")
    d = fresh_daemon(base=base, start=False)
    inner = " ".join("'%s'" % a for a in d.args)
    d.args = ["unshare", "-m", "--propagation", "private", "sh", "-c",
              "mount --bind '%s' /etc/resolv.conf && exec %s" % (resolv, inner)]
    d.start()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cli.run("network", "create", "--ipv6", "up6")
        p = cli.run("run", "--rm", "--network", "up6", "busybox", "sh", "-c",
                    "timeout 10 nslookup -type=a up6.test 127.0.0.11; exit $?")
        assert "192.0.2.66" in p.stdout
        assert "up6.test" in seen
        cli.run("network", "rm", "up6")
    finally:
        cli.cleanup()
        stop.set()
        srv.close()
        t.join(2)
