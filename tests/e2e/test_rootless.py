"""Rootless berthd: an unprivileged user (berthrl, made by this module with a subordinate
range, removed afterwards with /etc/subuid and /etc/subgid given back) runs build/berthd
itself; berthd maps itself into a user namespace with newuidmap/newgidmap and serves
$XDG_RUNTIME_DIR/berth.sock with its data under ~/.local/share/berth. What works: load and
pull, run, exec, logs, commit, a volume, a terminal, with --network none, on overlay2 in
the user namespace. What does not yet is
refused by name: other networks (no slirp4netns/pasta), resource limits without a
delegated cgroup."""
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BERTHD, TESTDATA, DockerCLI
from registry import Registry, extract_storage

FIX = os.path.join(TESTDATA, "fixtures")
USER = "berthrl"
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

    @property
    def host(self):
        return "unix://" + self.sock

    def env(self):
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.home, "XDG_RUNTIME_DIR": self.run}

    def start(self, *args):
        self.log = open(self.log_path, "ab")
        # oom_score_adj 100, as systemd's user manager runs its services: containers asking for
        # nothing (0) must still start
        self.proc = subprocess.Popen(["choom", "-n", "100", "--", "setpriv", "--reuid", USER, "--regid", USER,
                                      "--init-groups", BERTHD, *args],
                                     env=self.env(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rootless berthd exited %d:\n%s" % (self.proc.returncode, self.read_log()))
            if "Daemon has completed initialization" in self.read_log():
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


@pytest.fixture(scope="module")
def rootless():
    d = RootlessBerthd()
    try:
        d.start()
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


def test_what_rootless_berth_does_not_do_is_refused_by_name(rootless):
    d, cli = rootless
    p = cli.run("run", "--rm", "busybox", "true", check=False)
    assert p.returncode == 125
    assert "rootless berth supports only --network none, host or container:<name>" in p.stderr
    assert "not supported by berth" in p.stderr
    p = cli.run("run", "--rm", "--network", "none", "--memory", "64m", "busybox", "true", check=False)
    assert p.returncode != 0 and "rootless: resource limits need a cgroup delegated to the user" in p.stderr
    p = cli.run("network", "create", "rlnet", check=False)
    assert p.returncode != 0 and "rootless berth cannot create networks yet" in p.stderr
    cli.run("run", "-d", "--network", "none", "--name", "rlst", "busybox", "sleep", "600")
    try:
        p = cli.run("stats", "--no-stream", "rlst", check=False)
        assert p.returncode != 0 and "rootless: container stats need a cgroup delegated to the user" in p.stderr
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
