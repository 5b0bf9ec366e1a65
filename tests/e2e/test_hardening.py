"""The open holes of the containers issue, closed (issue 16).

- cgroup v2 device rules: a berthd whose /sys/fs/cgroup is a cgroup2 mount of its own
  (a private mount namespace: the host keeps its v1 hierarchies) enforces the device
  rules with an eBPF program on each container's cgroup; containers keep CAP_MKNOD, and
  --device and --device-cgroup-rule open exactly what they name.
- The shim binary (CVE-2019-5736): berth-shim runs from a sealed in-memory copy, so the
  container's process, a fork of the shim until its execve, leads nowhere on the host
  through /proc/<pid>/exe, with or without --privileged. A probe inside the container
  scans /proc while `docker exec` runs, and reports what it could open.
"""
import hashlib
import os
import subprocess
import tempfile
import time

import pytest

from conftest import BERTHD, TESTDATA, Berthd, DockerCLI

HOST_SHIM = os.path.join(os.path.dirname(BERTHD), "berth-shim")

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


def test_v2_exec_runs_under_the_same_rules(v2d):
    d, cli = v2d
    cid = cli.run("run", "-d", "--network", "none", "--device-cgroup-rule", "c 10:229 r", "busybox",
                  "sleep", "60").stdout.strip()
    try:
        p = cli.run("exec", cid, "sh", "-c", PROBE + "mknod /tmp/fuse c 10 229; mknod /tmp/l b 7 0; "
                    "try /tmp/fuse r read-fuse; try /tmp/fuse w write-fuse; try /tmp/l r read-loop\n")
        got = dict(line.split(" ", 1) for line in p.stdout.strip().splitlines())
    finally:
        cli.run("rm", "-f", cid)
    assert got["read-fuse"] == "ok", got
    assert NOT_PERMITTED in got["write-fuse"] and NOT_PERMITTED in got["read-loop"], got


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


# ---- the shim binary -------------------------------------------------------------------

# Scans /proc (once, or until killed) and prints one line per distinct finding about a
# process other than itself: its comm, its cmdline, and what /proc/<pid>/exe gives:
#   "<comm>|<cmdline>|EXE|<link>|<dev>|<ino>|<write>"  (write: errno name of an O_WRONLY
#   open of /proc/<pid>/exe, or OPENED: it never writes) or "<comm>|<cmdline>|DENIED|<errno>".
PROBE_C = r"""
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char seen[512][512];
static int n_seen;

static void report(const char *line) {
        for (int i = 0; i < n_seen; i++)
                if (strcmp(seen[i], line) == 0)
                        return;
        if (n_seen < 512)
                snprintf(seen[n_seen++], sizeof(seen[0]), "%s", line);
        printf("%s\n", line);
        fflush(stdout);
}

static void read_text(const char *path, char *buf, size_t size) {
        buf[0] = 0;
        int fd = open(path, O_RDONLY);
        if (fd < 0)
                return;
        ssize_t n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                n = 0;
        buf[n] = 0;
        for (ssize_t i = 0; i < n; i++)
                if (buf[i] == 0 || buf[i] == '\n' || buf[i] == '|')
                        buf[i] = ' ';
}

static void scan(void) {
        DIR *d = opendir("/proc");
        if (!d)
                return;
        struct dirent *de;
        int self = getpid();
        while ((de = readdir(d))) {
                int pid = atoi(de->d_name);
                if (pid <= 0 || pid == self)
                        continue;
                char p[64], comm[64], cmd[256], link[256], line[512];
                snprintf(p, sizeof(p), "/proc/%d/comm", pid);
                read_text(p, comm, sizeof(comm));
                snprintf(p, sizeof(p), "/proc/%d/cmdline", pid);
                read_text(p, cmd, sizeof(cmd));
                snprintf(p, sizeof(p), "/proc/%d/exe", pid);
                ssize_t n = readlink(p, link, sizeof(link) - 1);
                int fd = n >= 0 ? open(p, O_RDONLY) : -1;
                if (n < 0 || fd < 0) {
                        if (errno != ENOENT && errno != ESRCH) {
                                snprintf(line, sizeof(line), "%s|%s|DENIED|%s", comm, cmd, strerrorname_np(errno));
                                report(line);
                        }
                        continue;
                }
                link[n] = 0;
                struct stat st;
                fstat(fd, &st);
                close(fd);
                int w = open(p, O_WRONLY);
                const char *wr = w >= 0 ? "OPENED" : strerrorname_np(errno);
                if (w >= 0)
                        close(w);
                snprintf(line, sizeof(line), "%s|%s|EXE|%s|%llu|%llu|%s", comm, cmd, link,
                         (unsigned long long) st.st_dev, (unsigned long long) st.st_ino, wr);
                report(line);
        }
        closedir(d);
}

int main(int argc, char **argv) {
        if (argc > 1 && strcmp(argv[1], "once") == 0) {
                scan();
                return 0;
        }
        for (;;)
                scan();
}
"""


@pytest.fixture(scope="module")
def probe(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    d = tempfile.mkdtemp(prefix="berth-e2e-probe-")
    with open(os.path.join(d, "scan.c"), "w") as f:
        f.write(PROBE_C)
    p = subprocess.run(["cc", "-static", "-O1", "-o", os.path.join(d, "scan"), os.path.join(d, "scan.c")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("cannot build a static probe: " + p.stderr)
    os.unlink(os.path.join(d, "scan.c"))
    yield d
    subprocess.run(["rm", "-rf", d])


def findings(out):
    rows = []
    for line in out.splitlines():
        f = [x.strip() for x in line.split("|")]
        if len(f) >= 4:
            rows.append(f)
    return rows


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def host_shim_id():
    st = os.stat(HOST_SHIM)
    return (str(st.st_dev), str(st.st_ino))


def assert_not_the_host_shim(rows):
    """Every exe the probe could open is a sealed memfd, never the host's berth-shim."""
    host = host_shim_id()
    for f in rows:
        if f[2] == "EXE":
            assert (f[4], f[5]) != host, "the host's berth-shim is reachable: %s" % (f,)
            assert f[6] != "OPENED", "opened for writing: %s" % (f,)


def test_shims_run_from_a_sealed_copy(docker, berthd, probe):
    """With the host's pid namespace and every capability, the shims are in view: their
    exe is the sealed copy, which cannot be opened for writing."""
    before = sha256(HOST_SHIM)
    cid = docker.run("run", "-d", "--network", "none", "busybox", "sleep", "60").stdout.strip()
    try:
        out = docker.run("run", "--rm", "--network", "none", "--privileged", "--pid", "host",
                         "-v", probe + ":/probe:ro", "busybox", "/probe/scan", "once").stdout
    finally:
        docker.run("rm", "-f", cid)
    # this daemon's shims: started with its bundle in argv, or spares (no bundle yet) from
    # this build's berth-shim (another daemon on the machine runs its own build)
    ours = [f for f in findings(out) if "berth-shim" in f[1].split(" ")[0]
            and (berthd.base in f[1] or f[1].split(" ")[0] == HOST_SHIM)]
    assert len(ours) >= 2, out  # the sleeper's shim and the probe's own
    for f in ours:
        assert f[0] == "berth-shim", f
        assert f[2] == "EXE" and f[3].startswith("/memfd:berth-shim"), f
    assert_not_the_host_shim(ours)
    assert sha256(HOST_SHIM) == before


def in_the_window(f, privileged):
    """A finding about an exec'd process caught before its execve: with CAP_SYS_PTRACE its
    exe opens (the memfd); without, the non-dumpable process refuses it. (A process whose
    comm still said berth-shim but had exec'd by the time of the readlink shows busybox.)"""
    if f[0] != "berth-shim":
        return False
    if not privileged:
        return f[2] == "DENIED"
    return f[2] == "EXE" and (f[3].startswith("/memfd:") or (f[4], f[5]) == host_shim_id())


@pytest.mark.parametrize("privileged,how", [(True, "exec"), (False, "exec"), (True, "run --pid container:")],
                         ids=["exec-privileged", "exec-unprivileged", "init-of-a-container-sharing-its-pid-ns"])
def test_exec_window_never_reaches_the_shim_binary(docker, probe, privileged, how):
    """`docker exec`: the exec'd process is forked into the container's pid namespace and
    is the shim's image until its execve. So is the init of a container started with
    --pid container:<probe's>. The probe, pid 1 of the container, catches them."""
    before = sha256(HOST_SHIM)
    opts = ["--privileged"] if privileged else []
    cid = docker.run("run", "-d", "--network", "none", *opts, "-v", probe + ":/probe:ro", "busybox",
                     "/probe/scan").stdout.strip()
    try:
        caught = []
        for i in range(200):
            if how == "exec":
                docker.run("exec", cid, "true")
            else:
                docker.run("run", "--rm", "--network", "none", "--pid", "container:" + cid, "busybox", "true")
            if i % 10 == 9:
                caught = [f for f in findings(docker.run("logs", cid).stdout) if in_the_window(f, privileged)]
                if caught:
                    break
        assert caught, "the probe never saw an exec'd process before its execve"
        rows = findings(docker.run("logs", cid).stdout)
    finally:
        docker.run("rm", "-f", cid)
    assert_not_the_host_shim(rows)
    if not privileged:  # no exe of a shim-image process opened at all
        assert not [f for f in rows if f[2] == "EXE" and f[3].startswith("/memfd:")], rows
    assert sha256(HOST_SHIM) == before
