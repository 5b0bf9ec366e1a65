"""Networks through the stock docker CLI and docker-py: the default bridge, user networks,
the none/host/container modes, connect/disconnect, isolation, and restarts of berthd.

Traffic goes only to containers of the test's own daemon (its bridge and /16 come from
conftest.pick_test_net) and to that daemon's bridge address."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import TESTDATA, DockerCLI, daemon_env


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield
    for c in docker.run("ps", "-aq").stdout.split():
        docker.run("rm", "-f", c, check=False)
    docker.run("network", "prune", "-f", check=False)


def inspect(docker, name):
    return json.loads(docker.run("inspect", name).stdout)[0]


def sh(docker, *args, network=None, check=True, timeout=30):
    opts = ["--network", network] if network else []
    return docker.run("run", "--rm", *opts, "busybox", "sh", "-c", *args, check=check, timeout=timeout)


def web(docker, name, network=None, extra=()):
    """A busybox httpd serving its own hostname file at /hostname."""
    opts = ["--network", network] if network else []
    docker.run("run", "-d", "--name", name, *opts, *extra, "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")


def fetch(docker, url, network=None, check=True):
    # sh stays pid 1: busybox timeout execs its command, and pid 1 ignores SIGTERM.
    return sh(docker, "timeout 5 wget -qO- %s; exit $?" % url, network=network, check=check)


def links():
    return subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout


def test_none_has_loopback_up(docker, images):
    p = sh(docker, "ip addr show lo; ip -o link | wc -l", network="none")
    assert "state UP" in p.stdout or "<LOOPBACK,UP" in p.stdout
    assert "inet 127.0.0.1/8" in p.stdout and "inet6 ::1/128" in p.stdout
    assert p.stdout.strip().splitlines()[-1] == "1"  # lo only
    # A server on 127.0.0.1 answers inside its own container.
    p = sh(docker, "httpd -p 127.0.0.1:8080 -h /etc && timeout 5 wget -qO- http://127.0.0.1:8080/hostname",
           network="none")
    assert p.stdout.strip()


def test_default_bridge_gives_an_address_route_and_hosts(berthd, docker, images):
    web(docker, "nb-web")
    try:
        info = inspect(docker, "nb-web")
        ns = info["NetworkSettings"]
        ip = ns["IPAddress"]
        assert ip.startswith("10.%d.0." % berthd.net) and ns["IPPrefixLen"] == 24
        assert ns["Gateway"] == "10.%d.0.1" % berthd.net
        assert ns["MacAddress"] and ns["EndpointID"] and ns["SandboxKey"].startswith(berthd.exec_root)
        assert ns["Networks"]["bridge"]["IPAddress"] == ip
        assert info["HostConfig"]["NetworkMode"] == "default"
        # Inside: eth0 with that address, the default route through the bridge, /etc/hosts.
        p = docker.run("exec", "nb-web", "sh", "-c", "ip -o -4 addr show eth0; ip route; cat /etc/hosts")
        assert "inet %s/24" % ip in p.stdout
        assert "default via 10.%d.0.1 dev eth0" % berthd.net in p.stdout
        assert "%s\t%s" % (ip, info["Config"]["Hostname"]) in p.stdout
        # The host reaches it through the bridge; so does another container on the bridge.
        out = subprocess.run(["timeout", "5", "wget", "-qO-", "http://%s/hostname" % ip], capture_output=True, text=True)
        assert out.stdout.strip() == info["Config"]["Hostname"]
        assert fetch(docker, "http://%s/hostname" % ip).stdout.strip() == info["Config"]["Hostname"]
        # docker network inspect lists it with its address.
        net = json.loads(docker.run("network", "inspect", "bridge").stdout)[0]
        assert net["Containers"][info["Id"]]["IPv4Address"] == ip + "/24"
        assert net["Options"]["com.docker.network.bridge.name"] == berthd.bridge
        assert net["IPAM"]["Config"][0]["Subnet"] == "10.%d.0.0/24" % berthd.net
    finally:
        docker.run("rm", "-f", "nb-web")


def test_stop_gives_back_address_veth_and_namespace(berthd, docker, images):
    docker.run("run", "-d", "--name", "nb-stop", "busybox", "sleep", "600")
    info = inspect(docker, "nb-stop")
    sandbox = info["NetworkSettings"]["SandboxKey"]
    assert os.path.exists(sandbox)
    veths_before = links().count("master %s" % berthd.bridge)
    assert veths_before >= 1
    docker.run("stop", "-t", "1", "nb-stop")
    info = inspect(docker, "nb-stop")
    assert info["NetworkSettings"]["IPAddress"] == ""
    assert info["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""
    assert not os.path.exists(sandbox)
    # The host end of the veth is deleted by a thread of berthd's own, off the stop's path
    # (src/network/linkreap.c: the kernel's deletion waits for RCU grace periods).
    deadline = time.time() + 2
    while links().count("master %s" % berthd.bridge) != veths_before - 1 and time.time() < deadline:
        time.sleep(0.02)
    assert links().count("master %s" % berthd.bridge) == veths_before - 1
    # Started again it gets an address again.
    docker.run("start", "nb-stop")
    assert inspect(docker, "nb-stop")["NetworkSettings"]["IPAddress"]
    docker.run("rm", "-f", "nb-stop")
    assert not os.path.exists(sandbox)


def test_user_network_reachability_and_isolation(berthd, docker, images):
    docker.run("network", "create", "un-a")
    docker.run("network", "create", "--subnet", berthd.subnet(1), "un-b")
    try:
        web(docker, "un-web", network="un-a")
        ip = inspect(docker, "un-web")["NetworkSettings"]["Networks"]["un-a"]["IPAddress"]
        assert ip.startswith("10.%d." % berthd.net)
        assert fetch(docker, "http://%s/hostname" % ip, network="un-a").stdout.strip()
        # Another network cannot reach it: Docker isolates networks from each other.
        p = fetch(docker, "http://%s/hostname" % ip, network="un-b", check=False)
        assert p.returncode != 0
        # Nor can the default bridge.
        p = fetch(docker, "http://%s/hostname" % ip, check=False)
        assert p.returncode != 0
        # ps and network inspect know who is where.
        assert docker.run("ps", "--filter", "network=un-a", "--format", "{{.Names}}").stdout.split() == ["un-web"]
        assert docker.run("ps", "--filter", "network=un-b", "--format", "{{.Names}}").stdout.split() == []
        net = json.loads(docker.run("network", "inspect", "un-a").stdout)[0]
        assert [c["Name"] for c in net["Containers"].values()] == ["un-web"]
        # A network in use cannot go.
        p = docker.run("network", "rm", "un-a", check=False)
        assert p.returncode != 0 and "has active endpoints" in p.stderr
    finally:
        docker.run("rm", "-f", "un-web")
        docker.run("network", "rm", "un-a", "un-b")


def test_connect_and_disconnect_a_running_container(berthd, docker, images):
    docker.run("network", "create", "cd-a")
    docker.run("network", "create", "cd-b")
    try:
        web(docker, "cd-web", network="cd-b")
        ip = inspect(docker, "cd-web")["NetworkSettings"]["Networks"]["cd-b"]["IPAddress"]
        docker.run("run", "-d", "--name", "cd-cli", "--network", "cd-a", "busybox", "sleep", "600")
        probe = ["exec", "cd-cli", "timeout", "5", "wget", "-qO-", "http://%s/hostname" % ip]
        assert docker.run(*probe, check=False).returncode != 0
        docker.run("network", "connect", "cd-b", "cd-cli")
        assert "eth1" in docker.run("exec", "cd-cli", "ip", "-o", "link").stdout
        assert docker.run(*probe).stdout.strip()
        nets = inspect(docker, "cd-cli")["NetworkSettings"]["Networks"]
        assert set(nets) == {"cd-a", "cd-b"} and nets["cd-b"]["IPAddress"]
        docker.run("network", "disconnect", "cd-b", "cd-cli")
        assert "eth1" not in docker.run("exec", "cd-cli", "ip", "-o", "link").stdout
        assert docker.run(*probe, check=False).returncode != 0
        assert set(inspect(docker, "cd-cli")["NetworkSettings"]["Networks"]) == {"cd-a"}
        p = docker.run("network", "disconnect", "cd-b", "cd-cli", check=False)
        assert p.returncode != 0 and "is not connected" in p.stderr
    finally:
        docker.run("rm", "-f", "cd-web", "cd-cli")
        docker.run("network", "rm", "cd-a", "cd-b")


def test_create_on_one_network_connect_another_before_start(berthd, docker, images):
    docker.run("network", "create", "cs-a")
    docker.run("network", "create", "cs-b")
    try:
        docker.run("create", "--name", "cs-c", "--network", "cs-a", "busybox", "sleep", "600")
        docker.run("network", "connect", "--ip", "10.%d.17.50" % berthd.net, "cs-b", "cs-c")
        docker.run("start", "cs-c")
        p = docker.run("exec", "cs-c", "ip", "-o", "-4", "addr")
        assert "eth0" in p.stdout and "eth1" in p.stdout
        nets = inspect(docker, "cs-c")["NetworkSettings"]["Networks"]
        assert nets["cs-b"]["IPAMConfig"]["IPv4Address"] == "10.%d.17.50" % berthd.net
    finally:
        docker.run("rm", "-f", "cs-c")
        docker.run("network", "rm", "cs-a", "cs-b")


def test_fixed_ip_and_mac_address(berthd, docker, images):
    docker.run("network", "create", "--subnet", berthd.subnet(2), "fx")
    want_ip = "10.%d.202.77" % berthd.net
    try:
        p = docker.run("run", "--rm", "--network", "fx", "--ip", want_ip, "--mac-address", "02:42:0a:00:00:99",
                       "busybox", "ip", "-o", "addr", "show", "eth0")
        assert "inet %s/24" % want_ip in p.stdout
        p = docker.run("run", "--rm", "--network", "fx", "--mac-address", "02:42:0a:00:00:99", "busybox",
                       "cat", "/sys/class/net/eth0/address")
        assert p.stdout.strip() == "02:42:0a:00:00:99"
        # An address in use is refused.
        docker.run("run", "-d", "--name", "fx-holder", "--network", "fx", "--ip", want_ip, "busybox", "sleep", "600")
        p = docker.run("run", "--rm", "--network", "fx", "--ip", want_ip, "busybox", "true", check=False)
        assert p.returncode != 0 and "Address already in use" in p.stderr
        # --ip on the default bridge is refused as dockerd does.
        p = docker.run("run", "--rm", "--ip", "10.%d.0.50" % berthd.net, "busybox", "true", check=False)
        assert p.returncode != 0 and "user specified IP address is supported on user defined networks only" in p.stderr
    finally:
        docker.run("rm", "-f", "fx-holder", check=False)
        docker.run("network", "rm", "fx")


def test_addresses_come_back_once_their_veth_is_gone(fresh_daemon):
    """A leaving endpoint's address goes back to the network only once its veth is deleted
    (off the request path, src/network/linkreap.c): a join that finds its --ip still held,
    or no address free, waits for the pending deletions instead of failing; no other join
    waits for them. Each deletion is held 1 s here (a test hook) so that the joins meet
    them queued. A /29 has 5 addresses for containers."""
    env = daemon_env()
    env["BERTH_TEST_REAP_DELAY_MS"] = "1000"
    d = fresh_daemon(env=env)
    cli = DockerCLI(d.host)
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    cli.run("network", "create", "--subnet", "10.%d.209.0/29" % d.net, "tiny")
    want_ip = "10.%d.209.5" % d.net
    names = ["tiny%d" % i for i in range(5)]
    try:
        for n in names:
            cli.run("run", "-d", "--name", n, "--network", "tiny", "busybox", "sleep", "600")
        p = cli.run("run", "--rm", "--network", "tiny", "busybox", "true", check=False)
        assert p.returncode != 0 and "no available IPv4 addresses" in p.stderr
        cli.run("rm", "-f", *names)  # 5 deletions queued, 5 s of them
        t0 = time.time()
        p = cli.run("run", "--rm", "--network", "tiny", "busybox", "ip", "-o", "-4", "addr", "show", "eth0")
        assert "inet 10.%d.209." % d.net in p.stdout
        assert time.time() - t0 >= 0.9  # it waited for a deletion
        for _ in range(2):  # the same fixed address, back to back
            p = cli.run("run", "--rm", "--network", "tiny", "--ip", want_ip, "busybox",
                        "ip", "-o", "-4", "addr", "show", "eth0")
            assert "inet %s/29" % want_ip in p.stdout
        # Nothing else waits for them (every join did): a run with a deletion queued takes
        # about as long as one without.
        t0 = time.time()
        cli.run("run", "--rm", "busybox", "true")
        alone = time.time() - t0
        cli.run("run", "-d", "--name", "other", "busybox", "sleep", "600")
        cli.run("rm", "-f", "other")
        t0 = time.time()
        cli.run("run", "--rm", "busybox", "true")
        assert time.time() - t0 < alone + 0.7
    finally:
        cli.run("rm", "-f", *names, check=False)
        cli.run("network", "rm", "tiny", check=False)


def test_internal_network_has_no_route_out(berthd, docker, images):
    docker.run("network", "create", "--internal", "int1")
    try:
        web(docker, "int-web", network="int1")
        ip = inspect(docker, "int-web")["NetworkSettings"]["Networks"]["int1"]["IPAddress"]
        p = sh(docker, "ip route; timeout 3 wget -qO- http://%s/hostname; exit $?" % ip, network="int1")
        assert "default" not in p.stdout
        # Containers on it still reach each other.
        assert p.stdout.strip().splitlines()[-1] == inspect(docker, "int-web")["Config"]["Hostname"]
        # The host's bridge address is not a way out.
        p = sh(docker, "timeout 3 wget -qO- http://10.%d.0.1:9/; exit $?" % berthd.net, network="int1", check=False)
        assert p.returncode != 0
    finally:
        docker.run("rm", "-f", "int-web")
        docker.run("network", "rm", "int1")


def test_network_create_errors_as_dockerd(berthd, docker, images):
    docker.run("network", "create", "--subnet", berthd.subnet(3), "ce-1")
    try:
        p = docker.run("network", "create", "--subnet", berthd.subnet(3), "ce-2", check=False)
        assert p.returncode != 0 and "Pool overlaps with other one on this address space" in p.stderr
        p = docker.run("network", "create", "ce-1", check=False)
        assert p.returncode != 0 and "network with name ce-1 already exists" in p.stderr
        p = docker.run("network", "create", "--subnet", berthd.subnet(4), "--gateway", "10.%d.1.1" % berthd.net, "ce-3",
                       check=False)
        assert p.returncode != 0 and "no matching subnet for gateway" in p.stderr
        p = docker.run("network", "create", "-d", "nosuchdriver", "ce-4", check=False)
        assert p.returncode != 0 and 'plugin "nosuchdriver" not found' in p.stderr
        for n in ("bridge", "host", "none"):
            p = docker.run("network", "rm", n, check=False)
            assert p.returncode != 0 and "is a pre-defined network and cannot be removed" in p.stderr
        p = docker.run("network", "inspect", "nosuchnet", check=False)
        assert p.returncode != 0 and "network nosuchnet not found" in p.stderr
        assert "ce-2" not in docker.run("network", "ls", "--format", "{{.Name}}").stdout.split()
    finally:
        docker.run("network", "rm", "ce-1")


def test_network_ls_filters_prune_and_events(berthd, docker, images):
    since = str(time.time() - 1)
    docker.run("network", "create", "--label", "team=a", "lf-1")
    docker.run("network", "create", "lf-2")
    names = lambda *f: sorted(docker.run("network", "ls", *f, "--format", "{{.Name}}").stdout.split())
    assert names("--filter", "label=team=a") == ["lf-1"]
    assert names("--filter", "name=lf-") == ["lf-1", "lf-2"]
    assert names("--filter", "type=builtin") == ["bridge", "host", "none"]
    assert names("--filter", "driver=null") == ["none"]
    docker.run("run", "-d", "--name", "lf-user", "--network", "lf-2", "busybox", "sleep", "600")
    try:
        assert "lf-2" not in names("--filter", "dangling=true") and "lf-1" in names("--filter", "dangling=true")
        p = docker.run("network", "prune", "-f")
        assert "lf-1" in p.stdout and "lf-2" not in p.stdout
        assert "lf-2" in names() and "lf-1" not in names()
    finally:
        docker.run("rm", "-f", "lf-user")
        docker.run("network", "rm", "lf-2")
    ev = docker.run("events", "--since", since, "--until", str(time.time()), "--filter", "type=network",
                    "--format", "{{.Action}} {{.Actor.Attributes.name}}").stdout.splitlines()
    assert "create lf-1" in ev and "destroy lf-1" in ev and "connect lf-2" in ev and "disconnect lf-2" in ev


def test_host_and_container_modes(berthd, docker, images):
    p = docker.run("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link")
    assert berthd.bridge in p.stdout
    web(docker, "cm-web")
    try:
        ip = inspect(docker, "cm-web")["NetworkSettings"]["IPAddress"]
        p = docker.run("run", "--rm", "--network", "container:cm-web", "busybox", "sh", "-c",
                       "ip -o -4 addr show eth0; timeout 5 wget -qO- http://127.0.0.1/hostname; exit $?")
        assert "inet %s/24" % ip in p.stdout
        assert inspect(docker, "cm-web")["Config"]["Hostname"] in p.stdout
        p = docker.run("create", "--network", "container:cm-web", "-p", "80:80", "busybox", check=False)
        assert p.returncode != 0 and "conflicting options: port publishing and the container type network mode" in p.stderr
        docker.run("stop", "-t", "1", "cm-web")
        p = docker.run("run", "--rm", "--network", "container:cm-web", "busybox", "true", check=False)
        assert p.returncode != 0 and "non running container" in p.stderr
    finally:
        docker.run("rm", "-f", "cm-web")


def test_dockerpy_networks(berthd, client, images):
    net = client.networks.create("py-net", driver="bridge", labels={"k": "v"})
    try:
        assert client.networks.get("py-net").attrs["Labels"] == {"k": "v"}
        c = client.containers.run("busybox", ["sleep", "600"], detach=True, network="py-net", name="py-c")
        try:
            c.reload()
            ip = c.attrs["NetworkSettings"]["Networks"]["py-net"]["IPAddress"]
            assert ip.startswith("10.%d." % berthd.net)
            net.reload()
            assert c.id in net.attrs["Containers"]
            assert "py-net" in [n.name for n in client.networks.list(names=["py-net"])]
        finally:
            c.remove(force=True)
    finally:
        net.remove()


def test_kill9_berthd_keeps_a_running_containers_address(fresh_daemon):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cli.run("network", "create", "kn")
        cli.run("run", "-d", "--name", "kw", "--network", "kn", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
        ip = json.loads(cli.run("inspect", "kw").stdout)[0]["NetworkSettings"]["Networks"]["kn"]["IPAddress"]
        d.stop(sig=signal.SIGKILL)
        d.start()
        info = json.loads(cli.run("inspect", "kw").stdout)[0]
        assert info["State"]["Running"] and info["NetworkSettings"]["Networks"]["kn"]["IPAddress"] == ip
        p = cli.run("run", "--rm", "--network", "kn", "busybox", "sh", "-c",
                    "ip -o -4 addr show eth0; timeout 5 wget -qO- http://%s/hostname; exit $?" % ip)
        assert "inet %s/" % ip not in p.stdout  # no address is handed out twice
        assert info["Config"]["Hostname"] in p.stdout
        cli.run("rm", "-f", "kw")
        cli.run("network", "rm", "kn")
    finally:
        cli.cleanup()
    d.stop()
    # A clean stop with nothing running leaves no rules of berth's behind.
    table = d.nft_table()
    assert table
    assert table not in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def test_pod_pattern_shares_net_pid_and_ipc(berthd, docker, images):
    """cri-dockerd's pods: a pause container owns the namespaces, the others join it."""
    lbl = ["--label", "io.kubernetes.pod.name=p1"]
    docker.run("run", "-d", "--name", "pod-pause", "--ipc", "shareable", *lbl, "busybox", "sleep", "600")
    try:
        for n in ("pod-a", "pod-b"):
            docker.run("run", "-d", "--name", n, *lbl, "--network", "container:pod-pause", "--pid",
                       "container:pod-pause", "--ipc", "container:pod-pause", "busybox", "sleep", "601")
        p = docker.run("exec", "pod-a", "ps")
        assert "sleep 600" in p.stdout and p.stdout.count("sleep 601") == 2
        ip = inspect(docker, "pod-pause")["NetworkSettings"]["IPAddress"]
        assert "inet %s/" % ip in docker.run("exec", "pod-b", "ip", "-o", "-4", "addr").stdout
        a_ipc = docker.run("exec", "pod-a", "readlink", "/proc/self/ns/ipc").stdout
        assert a_ipc == docker.run("exec", "pod-pause", "readlink", "/proc/self/ns/ipc").stdout
        names = docker.run("ps", "--filter", "label=io.kubernetes.pod.name=p1", "--format", "{{.Names}}").stdout.split()
        assert sorted(names) == ["pod-a", "pod-b", "pod-pause"]
        # A donor that is not shareable is refused as dockerd does.
        docker.run("run", "-d", "--name", "pod-private", "busybox", "sleep", "600")
        p = docker.run("run", "--rm", "--ipc", "container:pod-private", "busybox", "true", check=False)
        assert p.returncode != 0 and "non-shareable IPC" in p.stderr
        # Stopped and removed in any order: the pause container first.
        docker.run("stop", "-t", "1", "pod-pause")
        docker.run("rm", "-f", "pod-pause", "pod-b")
        docker.run("rm", "-f", "pod-a")
    finally:
        docker.run("rm", "-f", "pod-pause", "pod-a", "pod-b", "pod-private", check=False)


def test_stats_have_network_counters(berthd, client, images):
    c = client.containers.run("busybox", ["sleep", "600"], detach=True)
    try:
        ip = client.api.inspect_container(c.id)["NetworkSettings"]["IPAddress"]
        subprocess.run(["busybox", "ping", "-c", "3", "-i", "0.2", ip], capture_output=True)
        s = c.stats(stream=False)
        eth0 = s["networks"]["eth0"]
        assert eth0["rx_packets"] >= 3 and eth0["tx_packets"] >= 3 and eth0["rx_bytes"] > 0
    finally:
        c.remove(force=True)


def test_forward_drop_policy_of_another_table_is_reported(fresh_daemon):
    """A DROP policy on the forward hook in another table (iptables' FORWARD left by dockerd,
    ufw, firewalld) drops container traffic whatever berth accepts: docker info says so,
    with the rule to add. The test's chain lets everything but this daemon's bridge pass."""
    d = fresh_daemon(start=False)
    tbl = "berth_e2e_fwd%d" % d.net
    rules = ("add table inet %s\n"
             "add chain inet %s fwchain { type filter hook forward priority 0; policy drop; }\n"
             "add rule inet %s fwchain iifname != \"%s\" oifname != \"%s\" accept\n") % (tbl, tbl, tbl, d.bridge, d.bridge)
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)
    try:
        d.start()
        cli = DockerCLI(d.host)
        try:
            warnings = json.loads(cli.run("info", "--format", "{{json .Warnings}}").stdout)
            hits = [w for w in warnings if tbl in w]
            assert hits and ('iifname "%s" accept' % d.bridge) in hits[0]
            assert tbl in d.read_log()
        finally:
            cli.cleanup()
    finally:
        subprocess.run(["nft", "delete", "table", "inet", tbl], capture_output=True)


def test_bridge_names_are_checked_and_other_links_never_taken(berthd, docker, images):
    for bad in ('a"b', "e*", "br%d", "..", "x" * 16):
        p = docker.run("network", "create", "-o", "com.docker.network.bridge.name=%s" % bad, "bn-bad", check=False)
        assert p.returncode != 0 and "invalid bridge name" in p.stderr, bad
    p = docker.run("network", "create", "-o", "com.docker.network.bridge.name=lo", "bn-lo", check=False)
    assert p.returncode != 0 and "lo exists and is not a bridge" in p.stderr
    assert "state UNKNOWN" in subprocess.run(["ip", "link", "show", "lo"], capture_output=True, text=True).stdout
    assert "bn-lo" not in docker.run("network", "ls", "--format", "{{.Name}}").stdout.split()


def test_legacy_links_give_hosts_entries_and_variables(berthd, docker, images):
    docker.run("run", "-d", "--name", "lk-db", "--expose", "5432", "-e", "SECRET=s3", "busybox", "sleep", "600")
    try:
        ip = inspect(docker, "lk-db")["NetworkSettings"]["IPAddress"]
        p = docker.run("run", "--rm", "--name", "lk-app", "--link", "lk-db:db", "busybox", "sh", "-c",
                       "cat /etc/hosts; env | sort")
        assert "%s\tdb " % ip in p.stdout and " lk-db" in p.stdout
        for want in ("DB_NAME=/lk-app/db", "DB_PORT=tcp://%s:5432" % ip, "DB_PORT_5432_TCP=tcp://%s:5432" % ip,
                     "DB_PORT_5432_TCP_ADDR=%s" % ip, "DB_PORT_5432_TCP_PORT=5432", "DB_PORT_5432_TCP_PROTO=tcp",
                     "DB_ENV_SECRET=s3"):
            assert want in p.stdout.splitlines(), want
        assert "DB_ENV_PATH=" not in p.stdout
        docker.run("stop", "-t", "1", "lk-db")
        p = docker.run("run", "--rm", "--link", "lk-db:db", "busybox", "true", check=False)
        assert p.returncode != 0 and "Cannot link to a non running container" in p.stderr
    finally:
        docker.run("rm", "-f", "lk-db")


def test_rm_link_removes_a_legacy_link(berthd, docker, images):
    """`docker rm --link /app/alias` (DELETE ?link=true): the parent forgets the link, both
    containers stay; dockerd's errors for a container's own name and an unknown link."""
    docker.run("run", "-d", "--name", "rl-db", "busybox", "sleep", "600")
    try:
        docker.run("create", "--name", "rl-app", "--link", "rl-db:db", "busybox", "sh", "-c",
                   "cat /etc/hosts; env")
        assert inspect(docker, "rl-app")["HostConfig"]["Links"]
        p = docker.run("rm", "--link", "rl-db", check=False)
        assert p.returncode != 0
        assert "Conflict, cannot remove the default link name of the container" in p.stderr
        p = docker.run("rm", "--link", "/rl-app/nosuch", check=False)
        assert p.returncode != 0 and "No such container: rl-app/nosuch" in p.stderr  # the CLI trims the slashes
        assert docker.run("rm", "--link", "/rl-app/db").stdout.strip() == "/rl-app/db"
        assert inspect(docker, "rl-app")["HostConfig"]["Links"] is None
        assert inspect(docker, "rl-db")["State"]["Running"]
        p = docker.run("rm", "--link", "/rl-app/db", check=False)
        assert p.returncode != 0 and "No such container: rl-app/db" in p.stderr
        docker.run("start", "-a", "rl-app")
        out = docker.run("logs", "rl-app").stdout
        assert "DB_NAME" not in out and "\tdb " not in out
    finally:
        docker.run("rm", "-f", "rl-app", "rl-db", check=False)
