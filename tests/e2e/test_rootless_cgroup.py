"""Rootless berthd in a delegated cgroup v2 subtree. The test mounts a cgroup2 hierarchy of
its own (this host has cgroup v1 on /sys/fs/cgroup; the v2 one has no controllers, but
cgroup.freeze needs none), makes a cgroup, delegates it to the test user as systemd's
Delegate=yes does (the dir, cgroup.procs, cgroup.subtree_control and cgroup.threads are
the user's), and starts the user's berthd in it. berthd moves its processes into the leaf
<subtree>/berthd, puts each container in <subtree>/berth/<id>, and pause, stats, top and
the limits of the delegated controllers work there; a limit whose controller is not
delegated is refused by name. Everything is removed afterwards: the containers, the
cgroups and the mount."""
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import DockerCLI
from test_rootless import FIX, RootlessBerthd, tun_for_users  # noqa: F401 (a module fixture)
import shutil

pytestmark = pytest.mark.skipif(not shutil.which("newuidmap"), reason="needs newuidmap (Debian package uidmap)")


def read(path):
    with open(path) as f:
        return f.read()


def remove_cgroup_tree(top):
    """Thaw, empty and remove @top and everything below it, deepest first."""
    if not os.path.isdir(top):
        return
    for dirpath, dirnames, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
        freeze = os.path.join(dirpath, "cgroup.freeze")
        if os.path.exists(freeze):
            with open(freeze, "w") as f:
                f.write("0")
        deadline = time.time() + 10
        while time.time() < deadline:
            pids = read(os.path.join(dirpath, "cgroup.procs")).split()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        for _ in range(100):
            try:
                os.rmdir(dirpath)
                break
            except OSError:
                time.sleep(0.05)


@pytest.fixture(scope="module")
def cgroup2():
    mnt = tempfile.mkdtemp(prefix="berth-e2e-cgroup2-")
    p = subprocess.run(["mount", "-t", "cgroup2", "cgroup2", mnt], capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(mnt)
        pytest.skip("cannot mount a cgroup2 hierarchy here: " + p.stderr.strip())
    try:
        yield mnt
    finally:
        subprocess.run(["umount", mnt], check=True)
        os.rmdir(mnt)


@pytest.fixture(scope="module")
def delegated(cgroup2):
    d = RootlessBerthd()
    sub = "/berth-e2e-rootless-%d" % os.getpid()
    cg = cgroup2 + sub
    os.mkdir(cg)
    try:
        for f in (".", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
            os.chown(os.path.join(cg, f), d.uid, d.gid)
        # started in the delegated cgroup, as systemd starts a Delegate=yes service there
        d.wrap = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg]
        d.start(*d.net_args)
        cli = DockerCLI(d.host)
        yield d, cli, cgroup2, sub
        for c in cli.run("ps", "-aq", check=False).stdout.split():
            cli.run("rm", "-f", c, check=False)
        cli.cleanup()
    finally:
        d.remove()
        remove_cgroup_tree(cg)


def v2_path(pid):
    for line in read("/proc/%d/cgroup" % pid).splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


def test_berthd_moves_into_a_leaf_of_the_delegated_subtree(delegated):
    d, cli, mnt, sub = delegated
    assert "containers' cgroups go under the delegated cgroup %s" % sub in d.read_log()
    # the parent and berthd in the namespace: in the leaf, so the subtree may enable
    # controllers for its children
    assert v2_path(d.proc.pid) == sub + "/berthd"
    assert read(os.path.join(mnt + sub, "cgroup.procs")).split() == []
    leaf = read(os.path.join(mnt + sub, "berthd", "cgroup.procs")).split()
    assert str(d.proc.pid) in leaf and len(leaf) >= 2
    info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
    assert info["CgroupVersion"] == "2" and info["CgroupDriver"] == "cgroupfs"
    assert not any("rootless-mode without cgroups" in w for w in info["Warnings"] or [])
    # what docker info says it can limit is what the subtree hands on to its children
    on = read(os.path.join(mnt + sub, "cgroup.subtree_control")).split()
    assert info["MemoryLimit"] == ("memory" in on) and info["PidsLimit"] == ("pids" in on)
    assert info["CpuCfsQuota"] == ("cpu" in on)


def test_container_cgroup_is_a_child_and_pause_freezes_it(delegated):
    d, cli, mnt, sub = delegated
    cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
    cli.run("run", "-d", "--name", "rlcg", "--network", "none", "busybox", "sh", "-c",
            "i=0; while :; do i=$((i+1)); echo $i > /tick; sleep 0.05; done")
    try:
        st = json.loads(cli.run("inspect", "rlcg").stdout)[0]
        cid, pid = st["Id"], st["State"]["Pid"]
        assert v2_path(pid) == "%s/berth/%s" % (sub, cid)
        cgdir = mnt + sub + "/berth/" + cid
        assert str(pid) in read(os.path.join(cgdir, "cgroup.procs")).split()
        top = cli.run("top", "rlcg").stdout
        assert "while :" in top

        def tick():
            return read("/proc/%d/root/tick" % pid).strip()

        cli.run("pause", "rlcg")
        assert json.loads(cli.run("inspect", "rlcg").stdout)[0]["State"]["Status"] == "paused"
        assert "frozen 1" in read(os.path.join(cgdir, "cgroup.events"))
        before = tick()
        time.sleep(0.5)
        assert tick() == before  # nothing runs while frozen
        cli.run("unpause", "rlcg")
        assert "frozen 0" in read(os.path.join(cgdir, "cgroup.events"))
        before = tick()
        deadline = time.time() + 5
        while tick() == before and time.time() < deadline:
            time.sleep(0.05)
        assert tick() != before
        assert json.loads(cli.run("inspect", "rlcg").stdout)[0]["State"]["Status"] == "running"
        # stats come from the container's own cgroup (cpu.stat is there without controllers)
        out = cli.run("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}}", "rlcg").stdout.split()
        assert out[0] == "rlcg" and out[1].endswith("%")
        raw = json.loads(subprocess.run(["curl", "-s", "--unix-socket", d.sock,
                                         "http://d/containers/rlcg/stats?stream=false"],
                                        capture_output=True, text=True, check=True).stdout)
        usage = int(read(os.path.join(cgdir, "cpu.stat")).split("\n")[0].split()[1]) * 1000
        assert 0 < raw["cpu_stats"]["cpu_usage"]["total_usage"] <= usage
    finally:
        cli.run("rm", "-f", "rlcg")
    deadline = time.time() + 5
    while os.path.exists(cgdir) and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(cgdir)  # removed with the container


def test_limit_of_a_controller_not_delegated_is_refused_by_name(delegated):
    d, cli, mnt, sub = delegated
    cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
    on = read(os.path.join(mnt + sub, "cgroup.subtree_control")).split()
    for flag, value, controller, file, want in (("--memory", "64m", "memory", "memory.max", "67108864"),
                                                 ("--pids-limit", "33", "pids", "pids.max", "33")):
        p = cli.run("run", "--rm", "--network", "none", flag, value, "busybox", "sh", "-c",
                    "cat /sys/fs/cgroup/" + file, check=False)
        if controller in on:  # a host whose v2 hierarchy has it: the limit holds
            assert p.returncode == 0 and p.stdout.strip() == want, p.stderr
        else:
            assert p.returncode != 0
            assert "the %s cgroup controller, which is not delegated to the user" % controller in p.stderr
    # docker update of a running container: the same rule
    cli.run("run", "-d", "--name", "rlupd", "--network", "none", "busybox", "sleep", "600")
    try:
        cid = json.loads(cli.run("inspect", "rlupd").stdout)[0]["Id"]
        p = cli.run("update", "--pids-limit", "12", "rlupd", check=False)
        if "pids" in on:
            assert p.returncode == 0 and read(mnt + sub + "/berth/" + cid + "/pids.max").strip() == "12"
        else:
            assert p.returncode != 0
            assert "a pids limit needs the pids cgroup controller, which is not delegated to the user" in p.stderr
        assert json.loads(cli.run("inspect", "rlupd").stdout)[0]["State"]["Status"] == "running"
    finally:
        cli.run("rm", "-f", "rlupd")
    # nothing is left of the refused containers
    assert cli.run("ps", "-aq").stdout.split() == []
    berth = mnt + sub + "/berth"
    assert [n for n in os.listdir(berth) if os.path.isdir(os.path.join(berth, n))] == []


def test_restarted_berthd_takes_the_subtree_again(delegated):
    """berthd started again from the leaf of the first one (where a shell that started it
    was moved with it): the same subtree, not one nested in the leaf."""
    d, cli, mnt, sub = delegated
    d.stop()
    d.log.close()
    assert d.proc.returncode == 0
    # nothing of the user's is left in the subtree once berthd is gone
    for dirpath, _, _ in os.walk(mnt + sub):
        assert read(os.path.join(dirpath, "cgroup.procs")).split() == [], dirpath
    d.wrap = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', mnt + sub + "/berthd"]
    d.start(*d.net_args)
    assert "containers' cgroups go under the delegated cgroup %s (" % sub in d.read_log().split("Daemon has completed")[-2]
    assert v2_path(d.proc.pid) == sub + "/berthd"
    assert read(os.path.join(mnt + sub, "cgroup.procs")).split() == []
    out = cli.run("run", "--rm", "--network", "none", "busybox", "cat", "/proc/self/cgroup").stdout
    assert "0::/" in out.splitlines()  # its own cgroup namespace, rooted at <subtree>/berth/<id>
