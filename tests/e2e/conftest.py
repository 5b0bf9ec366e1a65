"""Fixtures for berth's end-to-end tests.

A session-wide berthd runs on a fresh socket, data root and exec root under a temporary
directory (never the defaults, so the tests can run beside a real daemon). Tests drive it
with the stock `docker` CLI and with docker-py, as users do. Nothing here builds: `make`
has already produced build/berthd.
"""
import fcntl
import json
import os
import pty
import select
import struct
import termios
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# BERTH_E2E_BERTHD: another build to test (a sanitizer build of the daemon, say)
BERTHD = os.environ.get("BERTH_E2E_BERTHD") or os.path.join(ROOT, "build", "berthd")
# Test data kept in the repository: tests/fixtures/ (images made by the reference engine).
TESTDATA = os.path.join(ROOT, "tests")


def http_raw(sock_path, data, timeout=5.0, read=True):
    """Send raw bytes on the daemon's socket and return everything it answers."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not read:
            return b""
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def ping_ok(sock_path):
    try:
        return http_raw(sock_path, b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
                        timeout=1).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def daemon_env(extra_no_proxy=()):
    """berthd's environment in tests: any registry off loopback goes to a dead proxy on
    127.0.0.1:9, so a missing image can never make a test reach out to Docker Hub.
    extra_no_proxy: further hosts a test owns (e.g. a registry in its own netns)."""
    env = dict(os.environ)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[k] = "http://127.0.0.1:9"
    env["no_proxy"] = env["NO_PROXY"] = ",".join(["127.0.0.1", "localhost", "::1", *extra_no_proxy])
    # a plugin that is not there is looked for 2 s, not dockerd's 30 (tests of missing plugins)
    env["BERTH_PLUGIN_RETRY_SECONDS"] = "2"
    return env


_used_nets = set()


def pick_test_net():
    """A 10.N.0.0/16 of its own for one test daemon: no route of the host and no other
    daemon of this run uses it. The daemon's bridge gets 10.N.0.1/24 and its networks
    come from 10.N.16.0/20 in /24s; tests that need fixed subnets take 10.N.200+.0/24.
    The matching IPv6 ULA is fdNN::/48 (NN: N in hex, never the host's): IPv6 networks
    come from it in /64s; fixed IPv6 subnets take fdNN:0:0:c8+::/64 (see Berthd.subnet6)."""
    import ipaddress
    import random
    out = subprocess.run(["ip", "-4", "-o", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    routes = []
    for line in out.splitlines():
        words = line.split()
        dst = words[1] if words and words[0] in ("local", "broadcast", "unicast") and len(words) > 1 else (words[0] if words else "")
        try:
            if dst != "default":
                routes.append(ipaddress.ip_network(dst, strict=False))
        except ValueError:
            pass
    routes6 = []
    out6 = subprocess.run(["ip", "-6", "-o", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    for line in out6.splitlines():
        words = line.split()
        dst = words[1] if words and words[0] in ("local", "unicast", "anycast", "multicast") and len(words) > 1 else (words[0] if words else "")
        try:
            if dst != "default":
                net6 = ipaddress.ip_network(dst, strict=False)
                if not net6.is_link_local and not net6.is_multicast:
                    routes6.append(net6)
        except ValueError:
            pass
    for _ in range(500):
        n = random.randint(100, 250)
        cand = ipaddress.ip_network("10.%d.0.0/16" % n)
        cand6 = ipaddress.ip_network("fd%02x::/48" % n)
        if n in _used_nets or any(r.overlaps(cand) for r in routes) or any(r.overlaps(cand6) for r in routes6):
            continue
        _used_nets.add(n)
        return n
    raise RuntimeError("no free 10.N.0.0/16 for a test daemon")


def remove_daemon_network_objects(data_root, bridge, table):
    """What a test daemon made in the kernel: bridges of its networks, its nftables table."""
    bridges = {bridge}
    netdir = os.path.join(data_root, "network")
    try:
        for f in os.listdir(netdir):
            try:
                with open(os.path.join(netdir, f)) as fh:
                    rec = json.load(fh)
            except (OSError, ValueError):
                continue
            b = rec.get("BerthBridge") or (rec.get("Options") or {}).get("com.docker.network.bridge.name")
            if b:
                bridges.add(b)
            if rec.get("BerthCreatedParent") and rec.get("BerthParent"):
                bridges.add(rec["BerthParent"])  # a macvlan/ipvlan parent berth made
    except OSError:
        pass
    for b in bridges:
        subprocess.run(["ip", "link", "del", b], capture_output=True)
    if table:
        subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)


def unmount_under(path):
    """Lazy-unmount whatever is mounted below @path (netns binds, rootfs of a crash test)."""
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
    except OSError:
        return
    for p in sorted(points, key=len, reverse=True):
        if p.startswith(path.rstrip("/") + "/"):
            subprocess.run(["umount", "-l", p], capture_output=True)


class Berthd:
    """One berthd process on its own temporary roots, with a bridge and a /16 of its own."""

    def __init__(self, extra_args=(), config=None, base=None, env=None, network=True):
        self.env = env
        self.base = base or tempfile.mkdtemp(prefix="berth-e2e-")
        self.sock = os.path.join(self.base, "berth.sock")
        self.data_root = os.path.join(self.base, "data")
        self.exec_root = os.path.join(self.base, "exec")
        self.pidfile = os.path.join(self.base, "berthd.pid")
        self.config_file = os.path.join(self.base, "daemon.json")
        with open(self.config_file, "w") as f:
            f.write(config if config is not None else "{}")
        self.net = pick_test_net()
        self.bridge = "bt%d-%d" % (self.net, os.getpid() % 100000)
        self.net_args = ["--bridge", self.bridge, "--bip", "10.%d.0.1/24" % self.net,
                         "--default-address-pool", "base=10.%d.16.0/20,size=24" % self.net,
                         "--default-address-pool", "base=fd%02x::/48,size=64" % self.net] if network else []
        self.args = [BERTHD, "-H", "unix://" + self.sock, "--data-root", self.data_root,
                     "--exec-root", self.exec_root, "--pidfile", self.pidfile,
                     "--config-file", self.config_file, *self.net_args, *extra_args]
        self.log_path = os.path.join(self.base, "berthd.log")
        self.proc = None

    @property
    def host(self):
        return "unix://" + self.sock

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env if self.env is not None else daemon_env())
        if wait:
            deadline = time.time() + 10
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("berthd exited %d:\n%s" % (self.proc.returncode, self.read_log()))
                if ping_ok(self.sock):
                    return self
                time.sleep(0.01)
            raise RuntimeError("berthd did not answer /_ping:\n" + self.read_log())
        return self

    def read_log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def nft_table(self):
        """berthd names its nftables table in its log at start."""
        for line in self.read_log().splitlines():
            if "nftables table" in line and "table=" in line:
                return line.split("table=")[1].split()[0].strip('"')
        return None

    def subnet(self, i):
        """A /24 for a test's own --subnet: 10.N.(200+i).0/24."""
        return "10.%d.%d.0/24" % (self.net, 200 + i)

    def subnet6(self, i):
        """An IPv6 /64 for a test's own --subnet: fdNN:0:0:(200+i in hex)::/64."""
        return "fd%02x:0:0:%x::/64" % (self.net, 200 + i)

    def cleanup(self):
        self.stop()
        if self.net_args:
            remove_daemon_network_objects(self.data_root, self.bridge, self.nft_table())
        unmount_under(self.base)
        shutil.rmtree(self.base, ignore_errors=True)
        # its bridges are gone: the 10.N may serve a later daemon of this session (a long
        # session starts more daemons than there are Ns; a route still there keeps N taken)
        _used_nets.discard(self.net)


def docker_env(host, config_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_HOST"] = host
    env["DOCKER_CONFIG"] = config_dir
    return env


class DockerCLI:
    """The stock docker CLI pointed at one daemon, with a private config directory."""

    def __init__(self, host):
        self.host = host
        self.config_dir = tempfile.mkdtemp(prefix="berth-e2e-cli-")

    def run(self, *args, input=None, timeout=60, check=True):
        p = subprocess.run(["docker", *args], input=input, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL if input is None else None,
                           env=docker_env(self.host, self.config_dir), timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("docker %s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def cleanup(self):
        shutil.rmtree(self.config_dir, ignore_errors=True)


def default_runtime_args():
    """BERTH_E2E_DEFAULT_RUNTIME=runc: the session's daemon runs every container through that
    external OCI runtime (`make e2e` runs the container suite's core so once)."""
    rt = os.environ.get("BERTH_E2E_DEFAULT_RUNTIME")
    return ["--default-runtime", rt] if rt else []


@pytest.fixture(scope="session")
def berthd():
    d = Berthd(default_runtime_args()).start()
    yield d
    d.cleanup()


@pytest.fixture(scope="session")
def docker(berthd):
    cli = DockerCLI(berthd.host)
    yield cli
    cli.cleanup()


@pytest.fixture(scope="session")
def client(berthd):
    import docker as dockerpy
    c = dockerpy.DockerClient(base_url=berthd.host, version="auto", timeout=30)
    yield c
    c.close()


@pytest.fixture
def fresh_daemon():
    """Factory for daemons a test starts itself (lifecycle and config tests)."""
    made = []

    def make(*extra_args, config=None, start=True, base=None, env=None):
        d = Berthd(extra_args, config=config, base=base, env=env)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    for d in made:
        d.cleanup()


def pty_run(env, argv, script=None, timeout=20):
    """Run @argv under a pty of our own; @script: (wait-for bytes, bytes to type) steps."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    out = b""
    steps = list(script or [])
    deadline = time.time() + timeout
    while time.time() < deadline:
        if steps and steps[0][0] in out:
            os.write(fd, steps.pop(0)[1])
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out
