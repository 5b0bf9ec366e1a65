"""Rootless berthd: an unprivileged user (berthrl<pid>, made by this module with a subordinate
range, removed afterwards with /etc/subuid and /etc/subgid given back) runs build/berthd
itself; berthd maps itself into a user namespace with newuidmap/newgidmap and serves
$XDG_RUNTIME_DIR/berth.sock with its data under ~/.local/share/berth. What works: load and
pull, run, exec, logs, commit, a volume, a terminal, on overlay2 in the user namespace;
networks in berthd's own network namespace, connected to the host by slirp4netns: the
default bridge, user networks with names, published ports forwarded from the host's
127.0.0.1. Without a delegated cgroup, resource limits are dropped with dockerd's warnings
and stats and pause are refused by name (test_rootless_cgroup.py runs berthd in one), sctp ports."""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import BERTHD, TESTDATA, DockerCLI, pick_test_net
from registry import Registry, extract_storage

FIX = os.path.join(TESTDATA, "fixtures")
USER = "berthrl%d" % (os.getpid() % 100000)  # its own per run: runs of other worktrees go on at once
RANGE = 65536
SUBID_FILES = ("/etc/subuid", "/etc/subgid")
# with the backups shadow's tools leave: given back as they were too
SAVED_FILES = SUBID_FILES + ("/etc/subuid-", "/etc/subgid-")

pytestmark = pytest.mark.skipif(not shutil.which("newuidmap"), reason="needs newuidmap (Debian package uidmap)")


def taken_ranges():
    out = []
    for f in SUBID_FILES:
        try:
            for line in open(f):
                p = line.strip().split(":")
                if len(p) == 3 and p[1].isdigit() and p[2].isdigit():
                    out.append((int(p[1]), int(p[2])))
        except FileNotFoundError:
            pass
    return out


class RootlessBerthd:
    def __init__(self):
        self.saved = {f: (open(f).read() if os.path.exists(f) else None) for f in SAVED_FILES}
        subprocess.run(["useradd", "-r", "-s", "/bin/false", USER], check=True, capture_output=True)
        pw = pwd.getpwnam(USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.subid = 800000
        while any(s < self.subid + RANGE and self.subid < s + n for s, n in taken_ranges()):
            self.subid += RANGE
        for f in SUBID_FILES:
            with open(f, "a") as fh:
                fh.write("%s:%d:%d\n" % (USER, self.subid, RANGE))
        self.base = tempfile.mkdtemp(prefix="berth-e2e-rootless-")
        os.chmod(self.base, 0o755)
        self.home = os.path.join(self.base, "home")
        self.run = os.path.join(self.base, "run")
        for d, mode in ((self.home, 0o755), (self.run, 0o700)):
            os.mkdir(d, mode)
            os.chown(d, self.uid, self.gid)
        self.sock = os.path.join(self.run, "berth.sock")
        self.log_path = os.path.join(self.base, "berthd.log")
        self.proc = None
        self.wrap = []  # a command berthd is started through (test_rootless_cgroup: into a cgroup)
        # the bridge and subnets live in berthd's own network namespace; still the harness's
        # names and a /16 no route of the host uses
        self.net = pick_test_net()
        self.net_args = ["--bridge", "brl%d-%d" % (self.net, os.getpid() % 10000), "--bip", "10.%d.0.1/24" % self.net,
                         "--default-address-pool", "base=10.%d.16.0/20,size=24" % self.net]

    @property
    def host(self):
        return "unix://" + self.sock

    def env(self):
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.home, "XDG_RUNTIME_DIR": self.run}

    def start(self, *args):
        self.log = open(self.log_path, "ab")
        seen = len(self.read_log())  # a restart's log goes on after the last one's
        # oom_score_adj 100, as systemd's user manager runs its services: containers asking for
        # nothing (0) must still start
        self.proc = subprocess.Popen([*self.wrap, "choom", "-n", "100", "--", "setpriv", "--reuid", USER, "--regid", USER,
                                      "--init-groups", BERTHD, *args],
                                     env=self.env(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rootless berthd exited %d:\n%s" % (self.proc.returncode, self.read_log()))
            if "Daemon has completed initialization" in self.read_log()[seen:]:
                return self
            time.sleep(0.05)
        raise RuntimeError("rootless berthd did not start:\n" + self.read_log())

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def remove(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
        for f, text in self.saved.items():
            if text is None:
                if os.path.exists(f):
                    os.unlink(f)
            else:
                with open(f, "w") as fh:
                    fh.write(text)
        subprocess.run(["userdel", USER], capture_output=True)


@pytest.fixture(scope="module", autouse=True)
def tun_for_users():
    """slirp4netns opens /dev/net/tun as the user: 0666 as Debian's udev rule makes it
    (this machine's is 0600); given back afterwards."""
    mode = os.stat("/dev/net/tun").st_mode & 0o777
    if mode != 0o666:
        os.chmod("/dev/net/tun", 0o666)
    yield
    if mode != 0o666:
        os.chmod("/dev/net/tun", mode)


@pytest.fixture(scope="module")
def rootless():
    d = RootlessBerthd()
    try:
        d.start(*d.net_args)
        cli = DockerCLI(d.host)
        yield d, cli
        for c in cli.run("ps", "-aq", check=False).stdout.split():
            cli.run("rm", "-f", c, check=False)
        cli.cleanup()
    finally:
        d.remove()


@pytest.fixture(scope="module")
def peer_registry():
    storage = tempfile.mkdtemp(prefix="berth-rootless-registry-")
    extract_storage(os.path.join(FIX, "registry", "peer-registry-storage.tar"), storage)
    reg = Registry(storage=storage).start()
    yield reg
    reg.cleanup()
    shutil.rmtree(storage, ignore_errors=True)


def test_berthd_runs_as_the_user_with_rootless_paths(rootless):
    d, cli = rootless
    st = os.stat(d.sock)
    assert st.st_uid == d.uid and (st.st_mode & 0o077) == 0  # the user's socket alone
    info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
    assert "name=rootless" in info["SecurityOptions"]
    assert info["DockerRootDir"] == os.path.join(d.home, ".local/share/berth")
    assert info["Driver"] == "overlay2"  # overlayfs in the user namespace, its attributes user.overlay.*
    assert os.stat(info["DockerRootDir"]).st_uid == d.uid
    # no cgroup is delegated to the (new) user: dockerd's cgroup driver "none", said so
    assert info["CgroupDriver"] == "none" and not info["MemoryLimit"] and not info["PidsLimit"]
    assert any(w.startswith("WARNING: Running in rootless-mode without cgroups.") for w in info["Warnings"])
    assert not any("No memory limit support" in w for w in info["Warnings"])
    assert "no cgroup v2 subtree delegated to the user" in d.read_log()
    # every process of it is the user's on the host
    pids = subprocess.run(["pgrep", "-u", str(d.uid)], capture_output=True, text=True).stdout.split()
    assert str(d.proc.pid) in pids and len(pids) >= 2  # the parent and berthd in the namespace
    assert subprocess.run(["pgrep", "-u", "0", "-f", d.sock], capture_output=True).returncode != 0


def test_run_exec_logs_volume_terminal(rootless, tmp_path):
    d, cli = rootless
    cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
    out = cli.run("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                  "id -u; cat /proc/self/uid_map; echo $$; ip -o link show lo | grep -c UP").stdout.split("\n")
    assert out[0] == "0"
    assert out[1].split() == ["0", str(d.uid), "1"]
    assert out[2].split() == ["1", str(d.subid), str(RANGE)]
    assert out[3] == "1" and out[4] == "1"  # pid 1 of its own pid namespace, lo up
    cli.run("run", "-d", "--network", "none", "--name", "rl", "busybox", "sh", "-c", "echo logged; sleep 600")
    try:
        out = cli.run("exec", "rl", "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '").stdout.split("\n")
        assert int(out[0]) > 1 and out[1].strip() == "sleep 600"
        deadline = time.time() + 5
        while "logged" not in cli.run("logs", "rl").stdout and time.time() < deadline:
            time.sleep(0.1)
        assert cli.run("logs", "rl").stdout == "logged\n"
    finally:
        cli.run("rm", "-f", "rl")
    cli.run("run", "--rm", "--network", "none", "-v", "rlvol:/v", "busybox", "sh", "-c", "echo x > /v/f; mkdir /v/d; chown 7 /v/d")
    mp = json.loads(cli.run("volume", "inspect", "rlvol").stdout)[0]["Mountpoint"]
    assert os.stat(os.path.join(mp, "f")).st_uid == d.uid  # the container's root is the user
    assert os.stat(os.path.join(mp, "d")).st_uid == d.subid + 6  # uid 7 is the 7th subordinate id
    cli.run("volume", "rm", "rlvol")
    p = cli.run("run", "--rm", "--network", "none", "-t", "busybox", "tty", check=False)
    assert "/dev/pts/0" in p.stdout


def test_pull_from_a_registry(rootless, peer_registry):
    d, cli = rootless
    ref = peer_registry.host + "/layered"
    cli.run("pull", ref)
    # its whiteouts and opaque directory hold in overlayfs's user.overlay.* attributes
    out = cli.run("run", "--rm", "--network", "none", ref, "sh", "-c",
                  "id -u; ls /app/opq; ls /app/keep; test -e /app/gone || echo gone; cat /data/seed.txt").stdout
    assert out.split() == ["65534", "new.txt", "kept.txt", "gone", "seed"]
    # and a commit's: a removed directory stays removed, a new one is there
    cli.run("run", "--name", "rlc", "--network", "none", "-u", "0", ref, "sh", "-c",
            "rm -rf /app/keep && mkdir /app/opq2 && echo n > /app/opq2/n")
    try:
        cli.run("commit", "rlc", "rlcommitted:1")
        out = cli.run("run", "--rm", "--network", "none", "rlcommitted:1", "sh", "-c",
                      "test -e /app/keep || echo nokeep; cat /app/opq2/n; stat -c %u /app/opq2/n").stdout.split()
        assert out == ["nokeep", "n", "0"]
    finally:
        cli.run("rm", "-f", "rlc", check=False)
        cli.run("rmi", "-f", "rlcommitted:1", ref, check=False)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def slirp_pids(d):
    out = subprocess.run(["pgrep", "-u", str(d.uid), "-x", "slirp4netns"], capture_output=True, text=True).stdout
    return out.split()


def test_default_bridge_in_berthds_own_network_namespace(rootless):
    d, cli = rootless
    cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
    # slirp4netns, the user's, serves berthd's namespace; the host has no bridge of berthd's
    assert len(slirp_pids(d)) == 1
    assert subprocess.run(["ip", "link", "show", d.net_args[1]], capture_output=True).returncode != 0
    out = cli.run("run", "--rm", "busybox", "sh", "-c", "ip -4 -o addr show eth0; ip route; cat /etc/resolv.conf").stdout
    assert "inet 10.%d.0." % d.net in out
    assert "default via 10.%d.0.1" % d.net in out
    assert "nameserver 10.0.2.3" in out  # slirp4netns's DNS


def test_published_port_on_the_hosts_loopback(rootless, tmp_path):
    d, cli = rootless
    port = free_port()
    cli.run("run", "-d", "--name", "rlweb", "-p", "127.0.0.1:%d:80" % port, "busybox", "sh", "-c",
            "mkdir /www && echo rootless-served > /www/index.html && exec httpd -f -p 80 -h /www")
    try:
        deadline = time.time() + 10
        body = None
        while time.time() < deadline:
            try:
                body = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        assert body == b"rootless-served\n"
        assert cli.run("port", "rlweb", "80/tcp").stdout.strip() == "127.0.0.1:%d" % port
        # on the host it is slirp4netns, the user's process, that holds 127.0.0.1:port
        ss = subprocess.run(["ss", "-Hltnp", "sport = :%d" % port], capture_output=True, text=True).stdout
        assert "127.0.0.1:%d" % port in ss and "slirp4netns" in ss and "0.0.0.0:%d" % port not in ss
        # the same port again is refused as dockerd refuses it
        p = cli.run("run", "-d", "-p", "127.0.0.1:%d:80" % port, "busybox", "true", check=False)
        assert p.returncode != 0 and "port is already allocated" in p.stderr
        # every host address's forward comes in on tap0: the port on another host address
        # is taken too in berthd's namespace
        p = cli.run("run", "-d", "-p", "127.0.0.2:%d:80" % port, "busybox", "true", check=False)
        assert p.returncode != 0
        assert "listen tcp4 127.0.0.2:%d: bind: Address already in use" % port in p.stderr
        assert cli.run("ps", "-q", "--filter", "status=running").stdout.split() == [
            json.loads(cli.run("inspect", "rlweb").stdout)[0]["Id"][:12]]
    finally:
        cli.run("rm", "-f", "rlweb")
    # released: nothing listens on the host's port any more
    deadline = time.time() + 5
    while time.time() < deadline and subprocess.run(["ss", "-Hltn", "sport = :%d" % port], capture_output=True,
                                                    text=True).stdout.strip():
        time.sleep(0.1)
    assert subprocess.run(["ss", "-Hltn", "sport = :%d" % port], capture_output=True, text=True).stdout.strip() == ""


def test_port_on_every_host_address_is_reached_on_loopback(rootless):
    d, cli = rootless
    port = free_port()
    cli.run("run", "-d", "--name", "rlall", "-p", "%d:80" % port, "busybox", "sh", "-c",
            "mkdir /www && echo everywhere > /www/index.html && exec httpd -f -p 80 -h /www")
    try:
        deadline = time.time() + 10
        body = None
        while time.time() < deadline and body is None:
            try:
                body = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5).read()
            except OSError:
                time.sleep(0.2)
        assert body == b"everywhere\n"
        assert "0.0.0.0:%d" % port in cli.run("port", "rlall", "80/tcp").stdout.split()
    finally:
        cli.run("rm", "-f", "rlall")


def test_udp_port_on_the_hosts_loopback(rootless):
    d, cli = rootless
    from test_ports import UDP_RECV_C  # busybox has no UDP server: test_ports's one-shot receiver
    src = os.path.join(d.base, "r.c")
    with open(src, "w") as f:
        f.write(UDP_RECV_C)
    recv = os.path.join(d.base, "udprecv")
    subprocess.run(["cc", "-static", "-O1", "-o", recv, src], check=True)
    port = free_port()
    cli.run("run", "-d", "--name", "rludp", "-v", "%s:/udprecv:ro" % recv,
            "-p", "127.0.0.1:%d:9999/udp" % port, "busybox", "/udprecv", "9999")
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.time() + 10
        while time.time() < deadline:
            u.sendto(b"hello-udp", ("127.0.0.1", port))
            time.sleep(0.2)
            if json.loads(cli.run("inspect", "rludp").stdout)[0]["State"]["Status"] == "exited":
                break
        u.close()
        assert cli.run("logs", "rludp").stdout.strip() == "got hello-udp"
    finally:
        cli.run("rm", "-f", "rludp")


def test_user_network_names_and_network_create_rm(rootless):
    d, cli = rootless
    cli.run("network", "create", "rlnet")
    try:
        nets = cli.run("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout.split("\n")
        assert "rlnet bridge" in nets
        cli.run("run", "-d", "--name", "rla", "--network", "rlnet", "busybox", "sleep", "600")
        out = cli.run("run", "--rm", "--network", "rlnet", "busybox", "sh", "-c",
                      "ping -c1 -W3 rla >/dev/null && echo reached; nslookup rla 127.0.0.11 | grep -c Address").stdout
        assert out.split()[0] == "reached"
        ip = json.loads(cli.run("inspect", "rla").stdout)[0]["NetworkSettings"]["Networks"]["rlnet"]["IPAddress"]
        assert ip.startswith("10.%d." % d.net)
        # exec joins its network namespace
        assert "inet %s/" % ip in cli.run("exec", "rla", "ip", "-4", "-o", "addr", "show", "eth0").stdout
    finally:
        cli.run("rm", "-f", "rla", check=False)
    cli.run("network", "rm", "rlnet")
    assert "rlnet" not in cli.run("network", "ls", "--format", "{{.Name}}").stdout.split()


def test_what_rootless_berth_does_not_do_is_refused_by_name(rootless):
    d, cli = rootless
    cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
    p = cli.run("run", "--rm", "-p", "127.0.0.1:%d:80/sctp" % free_port(), "busybox", "true", check=False)
    assert p.returncode == 125
    assert "rootless: publishing an sctp port is not supported by berth" in p.stderr
    # log drivers sending to the host's loopback: out of reach from berthd's namespace
    p = cli.run("run", "--rm", "--log-driver", "gelf", "--log-opt", "gelf-address=udp://127.0.0.1:12201", "busybox",
                "true", check=False)
    assert p.returncode == 125
    assert "rootless: log driver gelf cannot reach udp://127.0.0.1:12201 on the host's loopback" in p.stderr
    p = cli.run("run", "--rm", "--log-driver", "fluentd", "busybox", "true", check=False)
    assert p.returncode == 125 and "log driver fluentd cannot reach localhost:24224" in p.stderr
    p = cli.run("run", "--rm", "--network", "none", "--log-driver", "syslog", "--log-opt",
                "syslog-address=unix:///nonexistent", "busybox", "true", check=False)
    assert "on the host's loopback" not in p.stderr  # a unix socket is reached by its path
    # without a delegated cgroup a limit is dropped with dockerd's warning, the container runs
    p = cli.run("run", "--rm", "--network", "none", "--memory", "64m", "--pids-limit", "50", "busybox", "cat",
                "/proc/self/cgroup", check=False)
    assert p.returncode == 0, p.stderr
    assert ("WARNING: Your kernel does not support memory limit capabilities or the cgroup is not mounted. "
            "Limitation discarded.") in p.stderr
    assert "PIDs limit discarded." in p.stderr
    p = cli.run("create", "--network", "none", "--cpus", "1", "busybox", "true", check=False)
    assert p.returncode != 0 and "NanoCPUs can not be set" in p.stderr
    cid = cli.run("create", "--network", "none", "--memory", "64m", "busybox", "true").stdout.strip().splitlines()[-1]
    try:
        hc = json.loads(cli.run("inspect", cid).stdout)[0]["HostConfig"]
        assert hc["Memory"] == 0 and hc["MemorySwap"] == -1
    finally:
        cli.run("rm", "-f", cid)
    cli.run("run", "-d", "--network", "none", "--name", "rlst", "busybox", "sleep", "600")
    try:
        p = cli.run("stats", "--no-stream", "rlst", check=False)
        assert p.returncode != 0 and "rootless: container stats need a cgroup delegated to the user" in p.stderr
        p = cli.run("pause", "rlst", check=False)
        assert p.returncode != 0 and "has no cgroup: pause is not possible" in p.stderr
        assert json.loads(cli.run("inspect", "rlst").stdout)[0]["State"]["Status"] == "running"
        # top lists the container's own processes (its pid namespace), not the user's session
        out = cli.run("top", "rlst").stdout.strip().split("\n")
        assert len(out) == 2 and out[1].endswith("sleep 600")
    finally:
        cli.run("rm", "-f", "rlst")
    p = cli.run("run", "--rm", "--network", "none", "--privileged", "busybox", "true", check=False)
    assert p.returncode == 0  # privileged means what it means in the user's namespace


def test_no_subordinate_ids_is_a_clear_error(rootless):
    d, cli = rootless
    env = dict(d.env(), XDG_RUNTIME_DIR=d.run)
    p = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", BERTHD, "--validate"],
                       env=env, capture_output=True, text=True, timeout=10)
    assert p.returncode == 0  # validating needs no namespace
    p = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", BERTHD,
                        "--data-root", os.path.join(d.base, "nobody-data"), "-H", "unix://" + os.path.join(d.base, "n.sock")],
                       env=env, capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and "rootless: no subordinate ids for nobody in /etc/subuid" in p.stderr


def test_slirp4netns_goes_with_berthd(rootless):
    """berthd stopped: its slirp4netns and API socket go with it; started again, a new one."""
    d, cli = rootless
    assert len(slirp_pids(d)) == 1
    # a running container is stopped with it (its network goes with berthd's namespace)
    cli.run("run", "-d", "--name", "rlstay", "--stop-timeout", "1", "-p", "127.0.0.1:%d:80" % free_port(),
            "busybox", "sleep", "600")
    d.stop()
    assert d.proc.returncode == 0
    assert slirp_pids(d) == []
    ps = subprocess.run(["ps", "-o", "stat=,pid=,args=", "-u", str(d.uid)], capture_output=True, text=True).stdout
    left = [line for line in ps.splitlines() if not line.startswith("Z")]  # exited shims wait for their reaper
    assert left == [], ps  # nothing of the user's runs on
    assert not os.path.exists(os.path.join(d.run, "berth", "slirp4netns.sock"))
    d.start(*d.net_args)
    assert len(slirp_pids(d)) == 1
    assert json.loads(cli.run("inspect", "rlstay").stdout)[0]["State"]["Status"] == "exited"
    cli.run("rm", "rlstay")
    port = free_port()
    cli.run("run", "-d", "--name", "rlagain", "-p", "127.0.0.1:%d:80" % port, "busybox", "sh", "-c",
            "mkdir /www && echo again > /www/index.html && exec httpd -f -p 80 -h /www")
    try:
        deadline = time.time() + 10
        body = None
        while time.time() < deadline and body is None:
            try:
                body = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5).read()
            except OSError:
                time.sleep(0.2)
        assert body == b"again\n"
    finally:
        cli.run("rm", "-f", "rlagain")
    # the parent killed outright: berthd (parent-death signal) and slirp4netns (--exit-fd) go too
    d.proc.kill()
    d.proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and (slirp_pids(d) or
                                      subprocess.run(["pgrep", "-u", str(d.uid)], capture_output=True).returncode == 0):
        time.sleep(0.1)
    assert slirp_pids(d) == []
    assert subprocess.run(["pgrep", "-u", str(d.uid)], capture_output=True).returncode != 0
    d.log.close()
    d.start(*d.net_args)


def test_without_slirp4netns_berthd_stays_in_the_users_network_namespace(rootless):
    """No slirp4netns in PATH: a berthd of the user's with none/host/container:<x> only,
    the rest refused by name."""
    d, cli = rootless
    bindir, home, run = (os.path.join(d.base, n) for n in ("noslirp-bin", "noslirp-home", "noslirp-run"))
    os.mkdir(bindir)
    for tool in ("newuidmap", "newgidmap"):
        os.symlink(shutil.which(tool), os.path.join(bindir, tool))
    for p, mode in ((home, 0o755), (run, 0o700)):
        os.mkdir(p, mode)
        os.chown(p, d.uid, d.gid)
    log = open(os.path.join(d.base, "noslirp.log"), "wb")
    proc = subprocess.Popen([shutil.which("setpriv"), "--reuid", USER, "--regid", USER, "--init-groups", BERTHD],
                            env={"PATH": bindir, "HOME": home, "XDG_RUNTIME_DIR": run}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 15
        text = ""
        while time.time() < deadline and "Daemon has completed initialization" not in text:
            assert proc.poll() is None, text
            time.sleep(0.05)
            text = open(log.name, errors="replace").read()
        assert "Daemon has completed initialization" in text
        assert len(slirp_pids(d)) == 1  # the module's berthd's only
        cli2 = DockerCLI("unix://" + os.path.join(run, "berth.sock"))
        p = cli2.run("run", "--rm", "busybox", "true", check=False)
        assert p.returncode == 125
        assert "rootless berth supports only --network none, host or container:<name> without slirp4netns" in p.stderr
        assert "not supported by berth" in p.stderr
        cli2.cleanup()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        log.close()


def test_tcp_api_and_metrics_listen_on_the_hosts_loopback(rootless):
    """-H tcp:// and --metrics-addr of a rootless berthd: on the host's 127.0.0.1, not in
    berthd's network namespace (its parent makes the sockets)."""
    d, cli = rootless
    api, metrics = free_port(), free_port()
    d.stop()
    d.log.close()
    try:
        d.start(*d.net_args, "-H", "unix://" + d.sock, "-H", "tcp://127.0.0.1:%d" % api,
                "--metrics-addr", "127.0.0.1:%d" % metrics)
        tcp = DockerCLI("tcp://127.0.0.1:%d" % api)
        info = json.loads(tcp.run("info", "--format", "{{json .}}").stdout)
        assert "name=rootless" in info["SecurityOptions"]
        tcp.cleanup()
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics, timeout=5).read().decode()
        assert "engine_daemon_engine_info" in body
    finally:
        d.stop()
        d.log.close()
        d.start(*d.net_args)
