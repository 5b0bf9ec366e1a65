"""Rootless berthd with pasta (Debian package passt) instead of slirp4netns, chosen with
BERTHD_ROOTLESS_NET=pasta as dockerd-rootless.sh's DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta
chooses it: berthd's own network namespace is set up as with slirp4netns (tap0
10.0.2.100/24, DNS 10.0.2.3), and a published tcp port is forwarded by pasta from every
host address (it forwards the ports listening in berthd's namespace). What pasta cannot
do here is refused by name: a port on one host address, udp ports."""
import os
import shutil
import subprocess
import time
import urllib.request

import pytest

from conftest import BERTHD, DockerCLI
from test_rootless import FIX, USER, RootlessBerthd, free_port, tun_for_users  # noqa: F401 (a module fixture)

pytestmark = pytest.mark.skipif(not shutil.which("newuidmap") or not shutil.which("pasta"),
                                reason="needs newuidmap (uidmap) and pasta (passt)")


class PastaBerthd(RootlessBerthd):
    def env(self):
        return dict(super().env(), BERTHD_ROOTLESS_NET="pasta")


@pytest.fixture(scope="module")
def rootless():
    d = PastaBerthd()
    try:
        d.start(*d.net_args)
        cli = DockerCLI(d.host)
        cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
        yield d, cli
        for c in cli.run("ps", "-aq", check=False).stdout.split():
            cli.run("rm", "-f", c, check=False)
        cli.cleanup()
    finally:
        d.remove()


def helpers(d, name):
    out = subprocess.run(["pgrep", "-u", str(d.uid), "-f", "^/usr/bin/" + name + " "], capture_output=True,
                         text=True).stdout
    return out.split()


def listeners(port):
    return subprocess.run(["ss", "-Hltnp", "sport = :%d" % port], capture_output=True, text=True).stdout.strip()


def get(port, deadline_s=10):
    deadline = time.time() + deadline_s
    while True:
        try:
            return urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5).read()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def test_pasta_connects_berthds_own_network_namespace(rootless):
    d, cli = rootless
    assert len(helpers(d, "pasta")) == 1 and helpers(d, "slirp4netns") == []
    out = cli.run("run", "--rm", "busybox", "sh", "-c", "ip -4 -o addr show eth0; ip route; cat /etc/resolv.conf").stdout
    assert "inet 10.%d.0." % d.net in out and "default via 10.%d.0.1" % d.net in out
    assert "nameserver 10.0.2.3" in out  # pasta's DNS forward, as slirp4netns's address
    # berthd's namespace, as slirp4netns sets it up: tap0 and the route through 10.0.2.2
    out = cli.run("run", "--rm", "--network", "host", "busybox", "sh", "-c", "ip -4 -o addr show tap0; ip route").stdout
    assert "inet 10.0.2.100/24" in out and "default via 10.0.2.2 dev tap0" in out


def test_published_port_is_forwarded_by_pasta(rootless):
    d, cli = rootless
    port = free_port()
    cli.run("run", "-d", "--name", "pweb", "-p", "%d:80" % port, "busybox", "sh", "-c",
            "mkdir /www && echo pasta-served > /www/index.html && exec httpd -f -p 80 -h /www")
    try:
        assert get(port) == b"pasta-served\n"
        # on the host it is pasta, the user's process, that holds the port
        ss = listeners(port)
        assert "passt" in ss or "pasta" in ss, ss
        assert "0.0.0.0:%d" % port in cli.run("port", "pweb", "80/tcp").stdout.split()
    finally:
        cli.run("rm", "-f", "pweb")
    # released: pasta stops forwarding once the port no longer listens in berthd's namespace
    deadline = time.time() + 5
    while time.time() < deadline and listeners(port):
        time.sleep(0.1)
    assert listeners(port) == ""


def test_what_pasta_cannot_forward_is_refused_by_name(rootless):
    d, cli = rootless
    port = free_port()
    p = cli.run("run", "-d", "--name", "plo", "-p", "127.0.0.1:%d:80" % port, "busybox", "sleep", "60", check=False)
    assert p.returncode == 125
    assert ("rootless with pasta: publishing on host address 127.0.0.1 is not supported by berth (pasta forwards a "
            "published port on every host address") in p.stderr
    p = cli.run("run", "-d", "--name", "pudp", "-p", "%d:53/udp" % port, "busybox", "sleep", "60", check=False)
    assert p.returncode == 125
    assert "rootless with pasta: publishing a udp port is not supported by berth" in p.stderr
    assert cli.run("ps", "-q").stdout.split() == []
    assert listeners(port) == ""
    for name in ("plo", "pudp"):
        cli.run("rm", "-f", name, check=False)


def test_pasta_goes_with_berthd_and_a_bad_choice_is_refused(rootless):
    d, cli = rootless
    assert len(helpers(d, "pasta")) == 1
    d.stop()
    d.log.close()
    assert d.proc.returncode == 0
    deadline = time.time() + 5
    while time.time() < deadline and helpers(d, "pasta"):
        time.sleep(0.1)
    assert helpers(d, "pasta") == []
    d.start(*d.net_args)
    assert len(helpers(d, "pasta")) == 1
    port = free_port()
    cli.run("run", "-d", "--name", "pagain", "-p", "%d:80" % port, "busybox", "sh", "-c",
            "mkdir /www && echo again > /www/index.html && exec httpd -f -p 80 -h /www")
    try:
        assert get(port) == b"again\n"
    finally:
        cli.run("rm", "-f", "pagain")
    # the parent killed outright: pasta goes too (its parent-death signal; it has no exit fd)
    d.proc.kill()
    d.proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and (helpers(d, "pasta") or
                                      subprocess.run(["pgrep", "-u", str(d.uid)], capture_output=True).returncode == 0):
        time.sleep(0.1)
    assert helpers(d, "pasta") == []
    assert subprocess.run(["pgrep", "-u", str(d.uid)], capture_output=True).returncode != 0
    d.log.close()
    d.start(*d.net_args)
    # an unknown helper: a clear error, before anything starts
    env = dict(d.env(), BERTHD_ROOTLESS_NET="vpnkit", XDG_RUNTIME_DIR=os.path.join(d.base, "bad-run"))
    os.mkdir(env["XDG_RUNTIME_DIR"], 0o700)
    os.chown(env["XDG_RUNTIME_DIR"], d.uid, d.gid)
    p = subprocess.run(["setpriv", "--reuid", USER, "--regid", USER, "--init-groups", BERTHD, "--data-root",
                        os.path.join(d.base, "bad-data")], env=env, capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "rootless: BERTHD_ROOTLESS_NET=vpnkit: the choices are slirp4netns and pasta" in p.stderr
    assert not os.path.exists(os.path.join(d.base, "bad-data"))
