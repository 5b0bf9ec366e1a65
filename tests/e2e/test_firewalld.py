"""firewalld: berth puts its bridges in firewalld's "docker" zone, as dockerd does, and puts
them back after firewalld reloads or restarts; without a system bus or without firewalld,
nothing happens and berthd works as usual.

The host's firewall is never touched: each test starts a private dbus-daemon with a
configuration of its own and a fake firewalld on it (fake_firewalld.py, which records the
calls and changes no rule), and points berthd at that bus with DBUS_SYSTEM_BUS_ADDRESS."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import DockerCLI, daemon_env

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_firewalld.py")

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>berth-test</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  %s
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


def wait_for(cond, what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="bfw")  # short: a unix socket path lives in it
    yield d
    shutil.rmtree(d, ignore_errors=True)


def bus_config(workdir, installed=True):
    """The private bus's configuration; with @installed, firewalld's name is activatable
    there, as firewalld's package makes it on a real host (the service file's command is
    never run: berthd never asks the bus to start a service)."""
    servicedir = ""
    if installed:
        servicedir = os.path.join(workdir, "services")
        os.makedirs(servicedir, exist_ok=True)
        with open(os.path.join(servicedir, "firewalld.service"), "w") as f:
            f.write("[D-BUS Service]\nName=org.fedoraproject.FirewallD1\nExec=/bin/false\n")
        servicedir = "<servicedir>%s</servicedir>" % servicedir
    conf = os.path.join(workdir, "bus.conf")
    with open(conf, "w") as f:
        f.write(BUS_CONFIG % (os.path.join(workdir, "bus"), servicedir))
    return conf


@pytest.fixture
def bus(workdir, request):
    """A private message bus; its address. Parametrize with installed=False for a bus on
    which firewalld is not installed."""
    conf = bus_config(workdir, getattr(request, "param", True))
    p = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork", "--nopidfile", "--print-address"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = p.stdout.readline().strip()
    assert address.startswith("unix:"), address
    yield address
    p.terminate()
    p.wait(10)


class FakeFirewalld:
    def __init__(self, address, workdir):
        self.address = address
        self.state_file = os.path.join(workdir, "firewalld.json")
        self.proc = None

    def start(self):
        if os.path.exists(self.state_file):
            os.unlink(self.state_file)
        self.proc = subprocess.Popen([sys.executable, FAKE, self.address, self.state_file])
        wait_for(lambda: os.path.exists(self.state_file), "the fake firewalld")
        return self

    def state(self):
        with open(self.state_file) as f:
            return json.load(f)

    def zone(self, name="docker"):
        return self.state()["runtime"].get(name, {}).get("interfaces", [])

    def calls(self, name):
        return [c for c in self.state()["calls"] if c[0] == name]

    def reload(self):
        """As `firewall-cmd --reload`: interfaces added at runtime are gone, then Reloaded."""
        self.proc.send_signal(signal.SIGUSR1)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def firewalld(bus, workdir):
    f = FakeFirewalld(bus, workdir)
    yield f
    f.stop()


def env_with_bus(address):
    env = daemon_env()
    env["DBUS_SYSTEM_BUS_ADDRESS"] = address
    return env


def bridge_of(cli, net):
    nid = json.loads(cli.run("network", "inspect", net).stdout)[0]["Id"]
    return "br-" + nid[:12]


def test_bridges_go_in_the_docker_zone_and_come_back_after_reload_and_restart(fresh_daemon, bus, firewalld):
    firewalld.start()
    d = fresh_daemon(env=env_with_bus(bus))
    cli = DockerCLI(d.host)
    try:
        # The zone is made as dockerd makes it: permanent, target ACCEPT, then a reload.
        wait_for(lambda: d.bridge in firewalld.zone(), "the default bridge in zone docker")
        st = firewalld.state()
        assert st["permanent"]["docker"]["target"] == "ACCEPT"
        add = firewalld.calls("addZone")
        assert len(add) == 1 and add[0][1] == "docker" and add[0][2][4] == "ACCEPT"
        assert st["policies"]["docker-forwarding"]["ingress_zones"] == ["ANY"]
        assert st["policies"]["docker-forwarding"]["egress_zones"] == ["docker"]
        assert st["policies"]["docker-forwarding"]["target"] == "ACCEPT"
        assert len(firewalld.calls("reload")) == 1

        # network create puts the new bridge in the zone, network rm takes it out.
        cli.run("network", "create", "fwa")
        cli.run("network", "create", "fwb")
        bra, brb = bridge_of(cli, "fwa"), bridge_of(cli, "fwb")
        wait_for(lambda: {bra, brb} <= set(firewalld.zone()), "the new bridges in zone docker")
        cli.run("network", "rm", "fwb")
        wait_for(lambda: brb not in firewalld.zone(), "fwb's bridge out of zone docker")
        assert ["removeInterface", "docker", brb] in firewalld.state()["calls"]
        assert set(firewalld.zone()) == {d.bridge, bra}

        # firewalld reloads: the bridges are gone from its runtime zone; berth puts them back.
        adds = len(firewalld.calls("addInterface"))
        firewalld.reload()
        wait_for(lambda: len(firewalld.calls("addInterface")) >= adds + 2 and set(firewalld.zone()) == {d.bridge, bra},
                 "the bridges back after Reloaded")

        # The zone is deleted from firewalld's configuration and firewalld reloads: berth
        # makes it again and puts the bridges back in.
        firewalld.proc.send_signal(signal.SIGUSR2)
        wait_for(lambda: len(firewalld.calls("addZone")) == 2 and set(firewalld.zone()) == {d.bridge, bra},
                 "the zone made again")

        # firewalld restarts without the zone (its permanent configuration lost it): the
        # zone is made again and the bridges go back in (NameOwnerChanged).
        firewalld.stop()
        firewalld.start()
        wait_for(lambda: set(firewalld.zone()) == {d.bridge, bra}, "the bridges back after a firewalld restart")
        assert firewalld.state()["permanent"]["docker"]["target"] == "ACCEPT"

        # A zone and policy that exist already are used as they are (no second reload).
        d.stop()
        firewalld.reload()
        wait_for(lambda: not firewalld.zone(), "the reload")
        calls_before = len(firewalld.calls("reload"))
        d.start()
        wait_for(lambda: set(firewalld.zone()) == {d.bridge, bra}, "the bridges back after a berthd restart")
        assert len(firewalld.calls("reload")) == calls_before
        assert len(firewalld.calls("addZone")) == 1  # this firewalld (restarted) had it already
        cli.run("network", "rm", "fwa")
        wait_for(lambda: bra not in firewalld.zone(), "fwa's bridge out of zone docker")
    finally:
        cli.cleanup()
    assert "firewalld" not in "\n".join(l for l in d.read_log().splitlines() if "level=warn" in l or "level=error" in l)


def test_firewalld_started_after_berthd_gets_the_bridges(fresh_daemon, bus, firewalld):
    d = fresh_daemon(env=env_with_bus(bus))
    cli = DockerCLI(d.host)
    try:
        cli.run("network", "create", "fwl")
        br = bridge_of(cli, "fwl")
        firewalld.start()
        wait_for(lambda: {d.bridge, br} <= set(firewalld.zone()), "the bridges in zone docker")
        cli.run("network", "rm", "fwl")
        wait_for(lambda: br not in firewalld.zone(), "the bridge out of zone docker")
    finally:
        cli.cleanup()


def test_no_system_bus_changes_nothing(fresh_daemon, workdir):
    """No bus at all: berthd starts as fast as with one and networks work as usual."""
    env = env_with_bus("unix:path=" + os.path.join(workdir, "no-such-bus"))
    t0 = time.monotonic()
    d = fresh_daemon(env=env)
    took = time.monotonic() - t0
    cli = DockerCLI(d.host)
    try:
        t0 = time.monotonic()
        cli.run("network", "create", "fwn")
        assert time.monotonic() - t0 < 5
        assert subprocess.run(["ip", "link", "show", bridge_of(cli, "fwn")], capture_output=True).returncode == 0
        cli.run("network", "rm", "fwn")
    finally:
        cli.cleanup()
    assert took < 10
    log = d.read_log()
    assert "firewalld" not in "\n".join(l for l in log.splitlines() if "level=warn" in l or "level=error" in l)


@pytest.mark.parametrize("bus", [False], indirect=True)
def test_a_bus_without_firewalld_installed_is_let_go(fresh_daemon, bus):
    """firewalld not installed (its name not activatable on the bus): berthd keeps no
    connection to the bus (nor libsystemd loaded); networks work as usual."""
    import dbus
    d = fresh_daemon("--log-level", "debug", env=env_with_bus(bus))
    cli = DockerCLI(d.host)
    conn = dbus.bus.BusConnection(bus)
    try:
        def berthd_on_bus():
            driver = conn.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
            pids = []
            for name in driver.ListNames(dbus_interface="org.freedesktop.DBus"):
                if name.startswith(":"):
                    try:
                        pids.append(int(driver.GetConnectionUnixProcessID(name, dbus_interface="org.freedesktop.DBus")))
                    except dbus.DBusException:
                        pass  # gone meanwhile
            return d.proc.pid in pids

        def let_go():
            with open("/proc/%d/maps" % d.proc.pid) as f:
                return not berthd_on_bus() and "libsystemd" not in f.read()
        # It did connect and ask (it may have let go already): the log says what it found.
        wait_for(lambda: "firewalld is not installed" in d.read_log(), "berthd to ask the bus")
        wait_for(let_go, "berthd to let go of the bus")
        cli.run("network", "create", "fwi")
        cli.run("network", "rm", "fwi")
    finally:
        conn.close()
        cli.cleanup()
