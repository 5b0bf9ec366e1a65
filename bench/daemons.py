"""Daemon lifecycle for the berth benchmark: install, start, ping, measure, stop, clean up.

Everything the bench creates lives under one temporary directory (Env.root) plus, for
dockerd, one Linux bridge per dockerd instance. Nothing here uses a default socket, data
root, exec root, pidfile or bridge of either daemon, so the bench can run beside a real
dockerd or berthd. Processes are stopped by PID (SIGTERM, then SIGKILL), never by name.
"""

import ctypes
import ctypes.util
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

POLICY_RC_D = "/usr/sbin/policy-rc.d"
SYSTEM_CONTAINERD_SOCK = "/run/containerd/containerd.sock"
DOCKERD_PLUGIN_DIR = "/run/docker/plugins"  # hard-coded in dockerd 20.10, created at start
PING_REQUEST = b"GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class DaemonError(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Installing the incumbent


def find_dockerd():
    for p in (shutil.which("dockerd"), "/usr/sbin/dockerd", "/usr/bin/dockerd"):
        if p and os.access(p, os.X_OK):
            return p
    return None


def ensure_dockerd(install=True):
    """Return the path of dockerd, installing Debian's docker.io if it is missing.

    The package must not start its own service: a policy-rc.d that answers 101 ("action
    forbidden") is put in place for the install if none exists, and removed afterwards.
    Returns None (after saying why) when dockerd is not available.
    """
    path = find_dockerd()
    if path or not install:
        return path
    if os.geteuid() != 0:
        log("dockerd is not installed and installing docker.io needs root")
        return None
    created = False
    try:
        if not os.path.lexists(POLICY_RC_D):
            with open(POLICY_RC_D, "w") as f:
                f.write("#!/bin/sh\n# written by berth bench/bench.py for an apt-get install;"
                        " removed afterwards\nexit 101\n")
            os.chmod(POLICY_RC_D, 0o755)
            created = True
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for argv in (["apt-get", "update", "-qq"],
                     ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker.io"]):
            log("running " + " ".join(argv))
            try:
                r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            except OSError as e:
                log(f"{argv[0]}: {e}")
                return None
            if r.returncode != 0:
                log(f"{' '.join(argv)} failed (exit {r.returncode}):\n{r.stdout[-3000:]}")
                return None
    finally:
        if created:
            try:
                os.unlink(POLICY_RC_D)
            except OSError:
                pass
    return find_dockerd()


def find_docker_cli():
    for p in ("/usr/local/bin/docker", shutil.which("docker")):
        if p and os.access(p, os.X_OK):
            return p
    return None


# ---------------------------------------------------------------------------------------
# /proc helpers


def _stat_fields(pid):
    """(ppid, starttime) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()  # fields after "pid (comm)"
    return int(rest[1]), int(rest[19])


def process_tree(pid):
    """pid and all its descendants, as {pid: starttime} (starttime guards against reuse)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _stat_fields(int(name))
        if st:
            children.setdefault(st[0], []).append((int(name), st[1]))
    root = _stat_fields(pid)
    if root is None:
        return {}
    tree = {pid: root[1]}
    todo = [pid]
    while todo:
        for child, start in children.get(todo.pop(), []):
            if child not in tree:
                tree[child] = start
                todo.append(child)
    return tree


def vmrss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def alive_same(pid, starttime):
    st = _stat_fields(pid)
    return st is not None and st[1] == starttime


# ---------------------------------------------------------------------------------------
# Mounts


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
MNT_DETACH = 2


def _unescape_mount(path):
    # /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo
    out, i = [], 0
    while i < len(path):
        esc = path[i + 1:i + 4]
        if path[i] == "\\" and len(esc) == 3 and esc.isdigit():
            out.append(chr(int(esc, 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def mounts_under(root):
    root = os.path.realpath(root)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = _unescape_mount(line.split()[4])
            if mp == root or mp.startswith(root + "/"):
                found.append(mp)
    return found


def unmount_all_under(root):
    """Lazily unmount everything mounted at or below root, deepest first. Returns leftovers."""
    for _ in range(5):
        mps = mounts_under(root)
        if not mps:
            return []
        for mp in sorted(set(mps), key=len, reverse=True):
            if _libc.umount2(mp.encode(), MNT_DETACH) != 0:
                err = ctypes.get_errno()
                log(f"umount {mp}: {os.strerror(err)}")
    return mounts_under(root)


# ---------------------------------------------------------------------------------------
# Talking to a daemon


def ping(sock_path, timeout=1.0):
    """One raw `GET /_ping` over the unix socket; True on a 200."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(PING_REQUEST)
        buf = b""
        while len(buf) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
            if b"\r\n\r\n" in buf and not buf.startswith(b"HTTP/1.1 100"):
                break
        parts = buf.split(b" ", 2)
        return len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1] == b"200"
    except OSError:
        return False
    finally:
        s.close()


# ---------------------------------------------------------------------------------------
# The bench environment: one temp root, bridges, the list of live daemons


class Env:
    def __init__(self, berthd=None, dockerd=None, docker_cli=None, keep=False, tmp_parent=None):
        self.berthd = berthd
        self.dockerd = dockerd
        self.docker_cli = docker_cli
        self.keep = keep
        self.root = tempfile.mkdtemp(prefix="berth-bench-", dir=tmp_parent)
        os.chmod(self.root, 0o755)
        self.live = []          # started Daemon objects not yet stopped
        self.bridges = []       # bridge names we created
        self._subnets = []      # subnets we assigned
        self._seq = 0
        self.created_run_docker = not os.path.exists(os.path.dirname(DOCKERD_PLUGIN_DIR))
        # The CLI gets an empty config dir of its own: no contexts, plugins or credential
        # helpers from the invoking user, the same for both daemons.
        self.cli_config = os.path.join(self.root, "cli-config")
        os.makedirs(self.cli_config)
        with open(os.path.join(self.cli_config, "config.json"), "w") as f:
            f.write("{}\n")

    def seq(self):
        self._seq += 1
        return self._seq

    def cli_env(self, host):
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = host
        env["DOCKER_CONFIG"] = self.cli_config
        env["DOCKER_CLI_HINTS"] = "false"
        return env

    # -- bridges for dockerd ------------------------------------------------------------

    def _used_networks(self):
        nets = []
        try:
            out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                                 text=True).stdout
            for line in out.splitlines():
                f = line.split()
                if "inet" in f:
                    nets.append(ipaddress.ip_interface(f[f.index("inet") + 1]).network)
            out = subprocess.run(["ip", "-4", "route", "show", "table", "all"],
                                 capture_output=True, text=True).stdout
            for line in out.splitlines():
                dst = line.split()[0] if line.split() else ""
                if dst and dst[0].isdigit():
                    try:
                        nets.append(ipaddress.ip_network(dst, strict=False))
                    except ValueError:
                        pass
        except OSError:
            pass
        return nets

    def make_bridge(self):
        """Create a bridge of our own with a free /24 (10.199.X.0/24). Returns (name, cidr)."""
        used = self._used_networks() + self._subnets
        subnet = None
        for x in range(10, 250):
            cand = ipaddress.ip_network(f"10.199.{x}.0/24")
            if not any(cand.overlaps(u) for u in used if u.prefixlen > 0):
                subnet = cand
                break
        if subnet is None:
            raise DaemonError("no free 10.199.X.0/24 subnet for a bench bridge")
        for _ in range(100):
            name = f"bbench{os.getpid() % 10000}x{self.seq()}"
            if not os.path.exists(f"/sys/class/net/{name}"):
                break
        gw = f"{subnet.network_address + 1}/{subnet.prefixlen}"
        r = subprocess.run(["ip", "link", "add", "name", name, "type", "bridge"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise DaemonError(f"ip link add {name} type bridge: {r.stderr.strip()}")
        self.bridges.append(name)
        for argv in (["ip", "addr", "add", gw, "dev", name], ["ip", "link", "set", name, "up"]):
            r = subprocess.run(argv, capture_output=True, text=True)
            if r.returncode != 0:
                raise DaemonError(f"{' '.join(argv)}: {r.stderr.strip()}")
        self._subnets.append(subnet)
        return name, gw

    # -- cleanup ------------------------------------------------------------------------

    def cleanup(self):
        for d in list(reversed(self.live)):
            try:
                d.stop()
            except Exception as e:  # keep cleaning
                log(f"stopping {d.label}: {e}")
        for name in self.bridges:
            if os.path.exists(f"/sys/class/net/{name}"):
                subprocess.run(["ip", "link", "del", name], capture_output=True)
        self.bridges = []
        if self.created_run_docker:
            # dockerd 20.10 creates /run/docker/plugins whatever its exec root; remove it
            # (and /run/docker) if the bench created them and they are empty.
            for p in (DOCKERD_PLUGIN_DIR, os.path.dirname(DOCKERD_PLUGIN_DIR)):
                try:
                    os.rmdir(p)
                except OSError:
                    pass
        left = unmount_all_under(self.root)
        if self.keep:
            log(f"keeping {self.root}")
            return
        if left:
            log(f"not removing {self.root}: still mounted: {', '.join(left)}")
            return
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Daemons


class Daemon:
    """One daemon instance on its own socket and directories under Env.root."""

    kind = "?"
    # True: every start of a fresh() instance gets brand-new directories.
    fresh_dirs_each_start = True

    def __init__(self, env, label, binary):
        self.env = env
        self.label = label
        self.binary = binary
        self.dir = os.path.join(env.root, label)
        self.proc = None
        self.logf = None
        self.extra = []          # other processes we started for this daemon (Popen)
        os.makedirs(self.dir, exist_ok=True)

    @property
    def sock(self):
        return os.path.join(self.dir, "api.sock")

    @property
    def host(self):
        return "unix://" + self.sock

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def argv(self):
        raise NotImplementedError

    def prepare(self):
        """Runs before the timed part of start()."""

    def fresh(self, purpose):
        """A new, unstarted instance of the same kind for a workload that needs its own."""
        raise NotImplementedError

    def log_tail(self, n=15):
        try:
            with open(os.path.join(self.dir, "daemon.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def _spawn(self, argv, logname):
        logf = open(os.path.join(self.dir, logname), "ab")
        try:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                    start_new_session=True, close_fds=True)
        finally:
            logf.close()

    def _wait_ping(self, proc, sock, t0, what):
        deadline = t0 + START_TIMEOUT_S
        while True:
            if ping(sock, timeout=max(0.05, deadline - time.perf_counter())):
                return time.perf_counter() - t0
            if proc.poll() is not None:
                raise DaemonError(f"{what} exited with status {proc.returncode} before "
                                  f"answering /_ping; log tail:\n{self.log_tail()}")
            if time.perf_counter() > deadline:
                raise DaemonError(f"{what} did not answer /_ping within {START_TIMEOUT_S:.0f} s;"
                                  f" log tail:\n{self.log_tail()}")
            time.sleep(0.001)

    def start(self):
        """Exec the daemon and poll /_ping every 1 ms. Returns seconds from exec to 200."""
        if self.proc:
            raise DaemonError(f"{self.label} already running")
        self.prepare()
        t0 = time.perf_counter()
        t0 = self._pre_exec(t0)
        self.proc = self._spawn(self.argv(), "daemon.log")
        self.env.live.append(self)
        try:
            return self._wait_ping(self.proc, self.sock, t0, f"{self.kind} ({self.label})")
        except BaseException:
            self.stop()
            raise

    def _pre_exec(self, t0):
        return t0

    def rss_bytes(self):
        """Sum of VmRSS over the daemon's process tree (and helpers we started for it)."""
        pids = {}
        for p in [self.proc] + self.extra:
            if p and p.poll() is None:
                pids.update(process_tree(p.pid))
        return sum(vmrss_bytes(p) for p in pids)

    def tree_desc(self):
        pids = {}
        for p in [self.proc] + self.extra:
            if p and p.poll() is None:
                pids.update(process_tree(p.pid))
        return ", ".join(f"{comm(p)}[{p}]" for p in sorted(pids))

    def _stop_proc(self, proc):
        if proc is None or proc.poll() is not None:
            if proc is not None:
                proc.wait()
            return
        tree = process_tree(proc.pid)
        tree.pop(proc.pid, None)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log(f"{self.label}: pid {proc.pid} ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s; "
                "sending SIGKILL")
            proc.kill()
            proc.wait()
        # Children that outlived their parent (e.g. dockerd's containerd after a SIGKILL):
        # same PID and same start time as recorded, so it is still the same process.
        leftovers = [(p, s) for p, s in tree.items() if alive_same(p, s)]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p, s in leftovers:
                if alive_same(p, s):
                    try:
                        os.kill(p, sig)
                    except OSError:
                        pass
            end = time.monotonic() + 5
            while time.monotonic() < end and any(alive_same(p, s) for p, s in leftovers):
                time.sleep(0.02)

    def remove_containers(self):
        """Containers outlive berthd by design (and dockerd's with live-restore): remove
        them while the daemon still answers, so a bench run leaves no process behind."""
        if not self.proc or self.proc.poll() is not None or not self.env.docker_cli:
            return
        try:
            env = self.env.cli_env(self.host)
            ids = subprocess.run([self.env.docker_cli, "ps", "-aq"], env=env, capture_output=True, text=True,
                                 timeout=60).stdout.split()
            for i in range(0, len(ids), 50):
                subprocess.run([self.env.docker_cli, "rm", "-f", *ids[i:i + 50]], env=env, capture_output=True,
                               timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            log(f"removing the containers of {self.label}: {e}")

    def stop(self):
        try:
            self.remove_containers()
            self._stop_proc(self.proc)
            for p in reversed(self.extra):
                self._stop_proc(p)
        finally:
            if self in self.env.live:
                self.env.live.remove(self)
            self.proc = None
            self.extra = []

    def discard(self):
        """Stop and delete this instance's directory (for per-round instances)."""
        self.stop()
        if unmount_all_under(self.dir):
            return
        if not self.env.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def version(self):
        try:
            r = subprocess.run([self.binary, "--version"], capture_output=True, text=True,
                               timeout=10)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unknown"


class Berthd(Daemon):
    """berthd with a bridge of the bench's own (never docker0) and its user networks in
    10.198.0.0/16; its nftables table is named after its exec root and removed when it
    stops with no container running."""
    kind = "berth"
    fresh_dirs_each_start = True
    bridge = None

    def argv(self):
        if self.bridge is None:
            self.bridge, self.bip = self.env.make_bridge()
        return [self.binary,
                "-H", self.host,
                "--data-root", os.path.join(self.dir, "data"),
                "--exec-root", os.path.join(self.dir, "exec"),
                "--pidfile", os.path.join(self.dir, "berthd.pid"),
                "--bridge", self.bridge, "--bip", self.bip,
                "--default-address-pool", "base=10.198.0.0/16,size=24"]

    def fresh(self, purpose):
        return Berthd(self.env, f"berth-{purpose}-{self.env.seq()}", self.binary)


class Dockerd(Daemon):
    """Debian's dockerd, isolated from the host's defaults.

    - its own socket, --data-root, --exec-root, --pidfile and --config-file (so no
      /etc/docker/daemon.json is read); the config file moves the libtrust key (which
      20.10 otherwise writes to /etc/docker/key.json) under our directory;
    - -b <bridge we created> with its own /24, --iptables=false, --ip-masq=false,
      --ip-forward=false: no iptables rules, no ip_forward sysctl, no docker0;
    - containerd: with no /run/containerd/containerd.sock present, dockerd starts its own
      managed containerd as a child (config, socket and state under <exec-root>/containerd,
      root under <data-root>/containerd). If a system containerd socket exists, dockerd
      would silently use it, so we start a private containerd ourselves instead and point
      dockerd at it with --containerd; its start is then part of the timed start-up.
    """

    kind = "dockerd"
    fresh_dirs_each_start = False

    def __init__(self, env, label, binary):
        super().__init__(env, label, binary)
        self.bridge = None
        self.own_containerd = False

    def prepare(self):
        if self.bridge is None:
            self.bridge, _ = self.env.make_bridge()
        cfg = {"deprecated-key-path": os.path.join(self.dir, "key.json")}
        with open(os.path.join(self.dir, "daemon.json"), "w") as f:
            json.dump(cfg, f)
        self.own_containerd = os.path.exists(SYSTEM_CONTAINERD_SOCK)

    @property
    def containerd_dir(self):
        return os.path.join(self.dir, "containerd")

    @property
    def containerd_sock(self):
        return os.path.join(self.containerd_dir, "containerd.sock")

    def argv(self):
        a = [self.binary,
             "-H", self.host,
             "--data-root", os.path.join(self.dir, "data"),
             "--exec-root", os.path.join(self.dir, "exec"),
             "--pidfile", os.path.join(self.dir, "dockerd.pid"),
             "--config-file", os.path.join(self.dir, "daemon.json"),
             "--bridge", self.bridge,
             "--iptables=false", "--ip-masq=false", "--ip-forward=false",
             "--default-address-pool", "base=10.197.0.0/16,size=24"]
        if self.own_containerd:
            a += ["--containerd", self.containerd_sock]
        return a

    def _pre_exec(self, t0):
        if not self.own_containerd:
            return t0
        # A system containerd is present: run a private one (what dockerd would have
        # started itself), with the same kind of config dockerd generates.
        d = self.containerd_dir
        os.makedirs(d, exist_ok=True)
        toml = os.path.join(d, "containerd.toml")
        with open(toml, "w") as f:
            f.write(f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n'
                    f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    f'[grpc]\n  address = "{self.containerd_sock}"\n'
                    f'[ttrpc]\n  address = "{self.containerd_sock}.ttrpc"\n'
                    f'[debug]\n  address = "{d}/containerd-debug.sock"\n')
        cbin = shutil.which("containerd") or "/usr/bin/containerd"
        t0 = time.perf_counter()
        p = self._spawn([cbin, "--config", toml], "containerd.log")
        self.extra.append(p)
        deadline = t0 + START_TIMEOUT_S
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.containerd_sock)
                break
            except OSError:
                pass
            finally:
                s.close()
            if p.poll() is not None or time.perf_counter() > deadline:
                raise DaemonError(f"private containerd for {self.label} did not start")
            time.sleep(0.001)
        return t0

    def setup_note(self):
        c = (f"private containerd started by the bench ({SYSTEM_CONTAINERD_SOCK} exists, "
             "which dockerd would otherwise use)" if self.own_containerd
             else "containerd managed by dockerd (its child)")
        return (f"bridge {self.bridge} (own /24), --iptables=false --ip-masq=false "
                f"--ip-forward=false; {c}")

    def fresh(self, purpose):
        # dockerd instances for a purpose reuse their directories and bridge across rounds
        # (each start is still a new process).
        key = f"dockerd-{purpose}"
        cache = self.env.__dict__.setdefault("_dockerd_cache", {})
        if key not in cache:
            cache[key] = Dockerd(self.env, key, self.binary)
        return cache[key]

    def discard(self):
        self.stop()  # keep the directories: the next round reuses them

    def version(self):
        v = super().version()
        try:
            r = subprocess.run(["containerd", "--version"], capture_output=True, text=True,
                               timeout=10)
            v += "; " + r.stdout.strip().replace("github.com/containerd/containerd ", "")
        except (OSError, subprocess.TimeoutExpired):
            pass
        return v
