"""Workloads of issue 16 (--userns-remap): what a user namespace costs a container start.

The remapped daemon is a berthd of its own, started on first use and kept for the run (the
environment stops it with the others), with --userns-remap of a system user the bench makes
with a subordinate range nobody else has; the user and the range go again when the bench
exits. Each round times `docker run --rm busybox true` against it and against the shared
berthd, alternately, and reports the ratio: the goal is that layers are not chowned per
container (idmapped mounts), so the ratio stays near 1.
"""
import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from daemons import Berthd
from workloads import Goal, Workload, load_images, time_docker

REMAP_USER = "berthbench"
RANGE = 65536
SUBID_FILES = ("/etc/subuid", "/etc/subgid")
# with the backups shadow's tools leave: given back as they were too
SAVED_FILES = SUBID_FILES + ("/etc/subuid-", "/etc/subgid-")

_remapped = {}


class RemappedBerthd(Berthd):
    def argv(self):
        return super().argv() + ["--userns-remap", REMAP_USER]


def _taken():
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


def _make_user():
    saved = {f: (open(f).read() if os.path.exists(f) else None) for f in SAVED_FILES}
    made = subprocess.run(["useradd", "-r", "-s", "/bin/false", REMAP_USER], capture_output=True).returncode == 0
    start = 900000
    while any(s < start + RANGE and start < s + n for s, n in _taken()):
        start += RANGE
    for f in SUBID_FILES:
        with open(f, "a") as fh:
            fh.write(f"{REMAP_USER}:{start}:{RANGE}\n")

    def undo():
        for f, text in saved.items():
            if text is None:
                if os.path.exists(f):
                    os.unlink(f)
            else:
                with open(f, "w") as fh:
                    fh.write(text)
        if made:
            subprocess.run(["userdel", REMAP_USER], capture_output=True)

    atexit.register(undo)


def _remapped_daemon(shared):
    d = _remapped.get("d")
    if d is not None and d.proc is not None:
        return d
    _make_user()
    d = RemappedBerthd(shared.env, f"berth-userns-{shared.env.seq()}", shared.binary)
    # The remapped root must get through every directory above its data root.
    for p in (shared.env.root, d.dir):
        os.chmod(p, 0o711)
    d.start()
    if not load_images(d):
        raise RuntimeError("could not load busybox into the remapped berthd")
    time_docker(d, "run", "--rm", "busybox", "true")  # its first start warms its caches
    _remapped["d"] = d
    return d


def run_rm_userns_ratio(daemon):
    """`docker run --rm busybox true` with --userns-remap over the same without."""
    remapped = _remapped_daemon(daemon)
    plain = time_docker(daemon, "run", "--rm", "busybox", "true")
    remap = time_docker(remapped, "run", "--rm", "busybox", "true")
    return remap / plain


def run_rm_userns(daemon):
    """`docker run --rm busybox true` against the remapped berthd, in ms."""
    return time_docker(_remapped_daemon(daemon), "run", "--rm", "busybox", "true")


# ---- rootless: berthd run by an unprivileged user (src/daemon/rootless.c) ----

ROOTLESS_USER = "berthbenchrl"
_rootless = {}


class _RootlessHandle:
    """What docker() and time_docker() need of a daemon: env, host, kind."""
    kind = "berth"

    def __init__(self, env, host):
        self.env = env
        self.host = host


def _rootless_user():
    """The bench's unprivileged user with a subordinate range, made once (gone at exit)."""
    pw = _rootless.get("user")
    if pw is not None:
        return pw
    if not shutil.which("newuidmap"):
        raise RuntimeError("rootless needs newuidmap (Debian package uidmap)")
    saved = {f: (open(f).read() if os.path.exists(f) else None) for f in SAVED_FILES}
    made = subprocess.run(["useradd", "-r", "-s", "/bin/false", ROOTLESS_USER], capture_output=True).returncode == 0
    pw = pwd.getpwnam(ROOTLESS_USER)
    start = 1000000
    while any(s < start + RANGE and start < s + n for s, n in _taken()):
        start += RANGE
    for f in SUBID_FILES:
        with open(f, "a") as fh:
            fh.write(f"{ROOTLESS_USER}:{start}:{RANGE}\n")
    # slirp4netns opens /dev/net/tun as the user: 0666 as Debian's udev rule makes it
    # (given back at exit)
    tun_mode = os.stat("/dev/net/tun").st_mode & 0o777 if os.path.exists("/dev/net/tun") else None
    if tun_mode is not None and tun_mode != 0o666:
        os.chmod("/dev/net/tun", 0o666)

    def undo():  # registered first, so it runs after the daemons' undo (atexit is LIFO)
        for f, text in saved.items():
            if text is None:
                if os.path.exists(f):
                    os.unlink(f)
            else:
                with open(f, "w") as fh:
                    fh.write(text)
        if made:
            subprocess.run(["userdel", ROOTLESS_USER], capture_output=True)
        if tun_mode is not None and tun_mode != 0o666:
            os.chmod("/dev/net/tun", tun_mode)

    atexit.register(undo)
    _rootless["user"] = pw
    return pw


def _remove_cgroup_tree(top):
    """Empty and remove @top and what is below it, deepest first."""
    for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
        for _ in range(200):
            pids = open(os.path.join(dirpath, "cgroup.procs")).read().split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.rmdir(dirpath)
                break
            except OSError:
                time.sleep(0.05)


def _rootless_daemon(shared, delegated=False, pasta=False):
    """The rootless berthd (behind slirp4netns; @pasta: behind pasta); @delegated: started
    in a cgroup v2 subtree delegated to its user, on a cgroup2 mount of the bench's own, so
    its containers get cgroups of their own (without: none, as on a cgroup v1 host)."""
    key = "delegated" if delegated else "pasta" if pasta else "h"
    h = _rootless.get(key)
    if h is not None:
        return h
    pw = _rootless_user()
    base = os.path.join(shared.env.root, f"berth-rootless-{shared.env.seq()}")
    home, run = os.path.join(base, "home"), os.path.join(base, "run")
    os.chmod(shared.env.root, 0o711)
    os.makedirs(home)
    os.makedirs(run, mode=0o700)
    for p in (base, home, run):
        os.chown(p, pw.pw_uid, pw.pw_gid)
    wrap, mnt, cg = [], None, None
    if delegated:
        # outside the environment's root: its clean-up unmounts what is below it before
        # this one's undo could empty and remove the cgroups
        mnt = tempfile.mkdtemp(prefix="berth-bench-cgroup2-")
        if subprocess.run(["mount", "-t", "cgroup2", "cgroup2", mnt], capture_output=True).returncode != 0:
            os.rmdir(mnt)
            raise RuntimeError("cannot mount a cgroup2 hierarchy for the delegated rootless berthd")
        cg = os.path.join(mnt, f"berth-bench-rootless-{os.getpid()}")
        os.makedirs(cg)
        for f in (".", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
            os.chown(os.path.join(cg, f), pw.pw_uid, pw.pw_gid)
        wrap = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg]
    log = open(os.path.join(base, "daemon.log"), "ab")
    net = "10.195" if delegated else "10.194" if pasta else "10.196"
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "XDG_RUNTIME_DIR": run}
    if pasta:
        env["BERTHD_ROOTLESS_NET"] = "pasta"
    proc = subprocess.Popen([*wrap, "setpriv", "--reuid", ROOTLESS_USER, "--regid", ROOTLESS_USER, "--init-groups",
                             shared.binary, "--bridge", "brlbench", "--bip", net + ".0.1/24",
                             "--default-address-pool", "base=" + net + ".16.0/20,size=24"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    h = _RootlessHandle(shared.env, "unix://" + os.path.join(run, "berth.sock"))

    def undo():
        if proc.poll() is None:
            try:
                ids = subprocess.run([shared.env.docker_cli, "ps", "-aq"], env=shared.env.cli_env(h.host),
                                     capture_output=True, text=True, timeout=60).stdout.split()
                if ids:
                    subprocess.run([shared.env.docker_cli, "rm", "-f", *ids], env=shared.env.cli_env(h.host),
                                   capture_output=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired):
                pass
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if cg:
            _remove_cgroup_tree(cg)
            subprocess.run(["umount", mnt], capture_output=True)
            os.rmdir(mnt)
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(undo)
    logpath = os.path.join(base, "daemon.log")
    deadline = time.time() + 15
    while "Daemon has completed initialization" not in open(logpath, errors="replace").read():
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError("rootless berthd did not start: " + open(logpath, errors="replace").read()[-500:])
        time.sleep(0.05)
    if delegated and "containers' cgroups go under the delegated cgroup" not in open(logpath, errors="replace").read():
        raise RuntimeError("the rootless berthd did not take its delegated cgroup")
    if not load_images(h):
        raise RuntimeError("could not load busybox into the rootless berthd")
    time_docker(h, "run", "--rm", "--network", "none", "busybox", "true")
    _rootless[key] = h
    return h


def run_rm_rootless(daemon):
    """`docker run --rm --network none busybox true` against a rootless berthd, in ms."""
    return time_docker(_rootless_daemon(daemon), "run", "--rm", "--network", "none", "busybox", "true")


def run_rm_rootless_ratio(daemon):
    """The same over rootful berth's `docker run --rm --network none busybox true`, per round."""
    h = _rootless_daemon(daemon)
    plain = time_docker(daemon, "run", "--rm", "--network", "none", "busybox", "true")
    return time_docker(h, "run", "--rm", "--network", "none", "busybox", "true") / plain


def run_rm_rootless_bridge(daemon):
    """`docker run --rm busybox true` (the default bridge, in berthd's namespace behind
    slirp4netns) against a rootless berthd, in ms."""
    return time_docker(_rootless_daemon(daemon), "run", "--rm", "busybox", "true")


def run_rm_rootless_bridge_ratio(daemon):
    """The same over rootful berth's `docker run --rm busybox true`, per round."""
    h = _rootless_daemon(daemon)
    plain = time_docker(daemon, "run", "--rm", "busybox", "true")
    return time_docker(h, "run", "--rm", "busybox", "true") / plain


def run_rm_rootless_cgroup(daemon):
    """`docker run --rm --network none busybox true` against a rootless berthd in a
    delegated cgroup v2 subtree (each container gets a cgroup of its own), in ms."""
    return time_docker(_rootless_daemon(daemon, delegated=True), "run", "--rm", "--network", "none", "busybox", "true")


def run_rm_rootless_cgroup_ratio(daemon):
    """The same over rootful berth's `docker run --rm --network none busybox true`, per round."""
    h = _rootless_daemon(daemon, delegated=True)
    plain = time_docker(daemon, "run", "--rm", "--network", "none", "busybox", "true")
    return time_docker(h, "run", "--rm", "--network", "none", "busybox", "true") / plain


def run_rm_rootless_pasta(daemon):
    """`docker run --rm busybox true` (the default bridge) against a rootless berthd behind
    pasta, in ms."""
    return time_docker(_rootless_daemon(daemon, pasta=True), "run", "--rm", "busybox", "true")


def run_rm_rootless_pasta_ratio(daemon):
    """The same over rootful berth's `docker run --rm busybox true`, per round."""
    h = _rootless_daemon(daemon, pasta=True)
    plain = time_docker(daemon, "run", "--rm", "busybox", "true")
    return time_docker(h, "run", "--rm", "busybox", "true") / plain


WORKLOADS_USERNS = [
    Workload("docker run --rm true, --userns-remap", "ms", run_rm_userns, daemons=("berth",), needs_images=True,
             description="`docker run --rm busybox true` against a berthd with --userns-remap"),
    Workload("userns-remap run --rm / plain", "×", run_rm_userns_ratio, daemons=("berth",), needs_images=True,
             goal=Goal("≤ 1.2", max_value=1.2), decimals=2,
             description="ratio of the row above to `docker run --rm busybox true` without remapping, per round"),
    Workload("rootless docker run --rm --network none", "ms", run_rm_rootless, daemons=("berth",), needs_images=True,
             description="`docker run --rm --network none busybox true` against berthd run by an unprivileged user "
                         "(no rootless dockerd here to compare with: the next row compares with rootful berth)"),
    Workload("rootless run --rm / rootful", "×", run_rm_rootless_ratio, daemons=("berth",), needs_images=True,
             decimals=2, description="ratio of the row above to rootful berth's, per round"),
    Workload("rootless docker run --rm true (default bridge)", "ms", run_rm_rootless_bridge, daemons=("berth",),
             needs_images=True,
             description="`docker run --rm busybox true` against the rootless berthd: its default bridge, in its "
                         "own network namespace behind slirp4netns (no rootless dockerd here to compare with)"),
    Workload("rootless run --rm (bridge) / rootful", "×", run_rm_rootless_bridge_ratio, daemons=("berth",),
             needs_images=True, decimals=2, description="ratio of the row above to rootful berth's, per round"),
    Workload("rootless docker run --rm --network none, delegated cgroup", "ms", run_rm_rootless_cgroup,
             daemons=("berth",), needs_images=True,
             description="`docker run --rm --network none busybox true` against a rootless berthd started in a "
                         "cgroup v2 subtree delegated to its user (on a cgroup2 mount of the bench's own)"),
    Workload("rootless run --rm (delegated cgroup) / rootful", "×", run_rm_rootless_cgroup_ratio, daemons=("berth",),
             needs_images=True, decimals=2, description="ratio of the row above to rootful berth's, per round"),
    Workload("rootless docker run --rm true (default bridge), pasta", "ms", run_rm_rootless_pasta, daemons=("berth",),
             needs_images=True,
             description="`docker run --rm busybox true` against a rootless berthd behind pasta "
                         "(BERTHD_ROOTLESS_NET=pasta)"),
    Workload("rootless run --rm (bridge, pasta) / rootful", "×", run_rm_rootless_pasta_ratio, daemons=("berth",),
             needs_images=True, decimals=2, description="ratio of the row above to rootful berth's, per round"),
]
