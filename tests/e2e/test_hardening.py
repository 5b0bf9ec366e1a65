"""The open holes of the containers issue, closed (issue 16).

- cgroup v2 device rules: a berthd whose /sys/fs/cgroup is a cgroup2 mount of its own
  (a private mount namespace: the host keeps its v1 hierarchies) enforces the device
  rules with an eBPF program on each container's cgroup; containers keep CAP_MKNOD, and
  --device and --device-cgroup-rule open exactly what they name.
"""
import os
import subprocess
import tempfile

import pytest

from conftest import TESTDATA, Berthd, DockerCLI

NOT_PERMITTED = "Operation not permitted"

# Open $1 for reading (r) or writing (w) and say how it went, as "LABEL ok" or
# "LABEL <the shell's error>": the subshell keeps a failed redirection from ending sh.
PROBE = r'''
try() {
        if [ "$2" = r ]; then (exec 3<"$1") 2>/tmp/err; else (exec 3>"$1") 2>/tmp/err; fi
        if [ $? = 0 ]; then echo "$3 ok"; else echo "$3 $(cat /tmp/err)"; fi
}
'''


@pytest.fixture(scope="module")
def v2d():
    """A berthd on a cgroup v2 tree: its own mount namespace with cgroup2 on /sys/fs/cgroup."""
    base = tempfile.mkdtemp(prefix="berth-e2e-v2-")
    d = Berthd(base=base)
    inner = " ".join("'%s'" % a for a in d.args)
    d.args = ["unshare", "-m", "--propagation", "private", "sh", "-c",
              "mount -t cgroup2 none /sys/fs/cgroup && exec %s" % inner]
    try:
        d.start()
    except RuntimeError as e:
        d.cleanup()
        pytest.skip("no berthd on a cgroup2 tree here: %s" % e)
    cli = DockerCLI(d.host)
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield d, cli
    for c in cli.run("ps", "-aq").stdout.split():
        cli.run("rm", "-f", c, check=False)
    cli.cleanup()
    d.cleanup()


def run_probe(cli, script, *opts):
    p = cli.run("run", "--rm", "--network", "none", *opts, "busybox", "sh", "-c", PROBE + script, check=False)
    assert p.returncode == 0, p.stderr + p.stdout
    return dict(line.split(" ", 1) for line in p.stdout.strip().splitlines())


def test_v2_daemon_really_runs_on_cgroup2(v2d):
    d, cli = v2d
    assert cli.run("info", "--format", "{{.CgroupVersion}}").stdout.strip() == "2"
    cid = cli.run("run", "-d", "--network", "none", "busybox", "sleep", "60").stdout.strip()
    try:
        # the same v2 hierarchy is the host's /sys/fs/cgroup/unified (when mounted)
        if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs"):
            assert os.path.isdir("/sys/fs/cgroup/unified/berth/%s" % cid)
    finally:
        cli.run("rm", "-f", cid)


def test_v2_default_rules_keep_mknod_and_refuse_other_devices(v2d):
    d, cli = v2d
    got = run_probe(cli, """
mknod /tmp/fuse c 10 229 && echo "mknod-fuse ok" || echo "mknod-fuse failed"
mknod /tmp/loop b 7 0 && echo "mknod-loop ok" || echo "mknod-loop failed"
mknod /tmp/null c 1 3 && echo "mknod-null ok" || echo "mknod-null failed"
try /tmp/fuse r read-fuse; try /tmp/fuse w write-fuse; try /tmp/loop r read-loop
try /tmp/null w write-null; try /dev/zero r read-zero
""")
    # CAP_MKNOD stays (dockerd's "c *:* m" and "b *:* m" allow every mknod) ...
    assert got["mknod-fuse"] == "ok" and got["mknod-loop"] == "ok" and got["mknod-null"] == "ok", got
    # ... and the program refuses what is not on the allow list, whatever the node's name
    for k in ("read-fuse", "write-fuse", "read-loop"):
        assert NOT_PERMITTED in got[k], (k, got)
    assert got["write-null"] == "ok" and got["read-zero"] == "ok", got


def test_v2_device_cgroup_rule_opens_what_it_names(v2d):
    d, cli = v2d
    got = run_probe(cli, """
mknod /tmp/fuse c 10 229; mknod /tmp/loop b 7 0
try /tmp/fuse r read-fuse; try /tmp/fuse w write-fuse; try /tmp/loop r read-loop
""", "--device-cgroup-rule", "c 10:229 r")
    assert got["read-fuse"] == "ok", got
    assert NOT_PERMITTED in got["write-fuse"], got
    assert NOT_PERMITTED in got["read-loop"], got
    got = run_probe(cli, """
mknod /tmp/fuse c 10 229; mknod /tmp/loop b 7 0
try /tmp/fuse w write-fuse; try /tmp/loop r read-loop
""", "--device-cgroup-rule", "c 10:229 rwm", "--device-cgroup-rule", "b 7:* rwm")
    assert got["write-fuse"] == "ok", got
    # an unbound loop device answers ENXIO: past the cgroup, it is the driver speaking
    assert NOT_PERMITTED not in got["read-loop"], got


def test_v2_device_and_privileged(v2d):
    d, cli = v2d
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on this host")
    got = run_probe(cli, "try /dev/fuse r read-fuse; try /dev/fuse w write-fuse\n", "--device", "/dev/fuse")
    assert got == {"read-fuse": "ok", "write-fuse": "ok"}, got
    got = run_probe(cli, "mknod /tmp/fuse c 10 229; try /tmp/fuse w write-fuse; mknod /tmp/l b 7 0; "
                         "try /tmp/l r read-loop\n", "--privileged")
    assert got["write-fuse"] == "ok", got
    assert NOT_PERMITTED not in got["read-loop"], got
