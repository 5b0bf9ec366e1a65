"""Container limits and security options through the stock docker CLI: memory and OOM,
pids, read-only roots and tmpfs, capabilities, users, env, ulimits, devices, cgroup
values (read from the host), working directories, fd hygiene, /etc files, --init, -it
sizes, and the cleanup of cgroups and mounts after a container is gone."""
import fcntl
import glob
import json
import os
import pty
import select
import struct
import subprocess
import tempfile
import termios
import time

import pytest

from conftest import ROOT, TESTDATA, docker_env

CGROUP = "/sys/fs/cgroup"
BERTH_INIT = os.path.join(ROOT, "build", "berth-init")


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield
    for c in docker.run("ps", "-aq").stdout.split():
        docker.run("rm", "-f", c, check=False)


def run(docker, *args, **kw):
    """`docker run --rm busybox ARGS...` with options before the image given as a tuple."""
    opts = kw.pop("opts", ())
    return docker.run("run", "--rm", *opts, "busybox", *args, **kw)


def inspect(docker, name):
    return json.loads(docker.run("inspect", name).stdout)[0]


def cgroup_dirs(cid):
    return glob.glob(os.path.join(CGROUP, "*", "berth", cid))


def cgroup_read(controller, cid, name):
    with open(os.path.join(CGROUP, controller, "berth", cid, name)) as f:
        return f.read().strip()


def mounted_paths_with(s):
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if s in line]


def wait_for(pred, timeout=10, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


# ---- memory, pids ----

def test_memory_limit_oom_kill_is_137_and_oomkilled(docker, images):
    p = docker.run("run", "--name", "hog", "--memory", "32m", "busybox", "sh", "-c",
                   "x=a; while true; do x=$x$x; done", check=False, timeout=120)
    assert p.returncode == 137, p.stderr
    assert docker.run("inspect", "-f", "{{.State.OOMKilled}}", "hog").stdout.strip() == "true"
    st = inspect(docker, "hog")["State"]
    assert st["ExitCode"] == 137 and st["Status"] == "exited"
    cid = inspect(docker, "hog")["Id"]
    docker.run("rm", "hog")
    assert cgroup_dirs(cid) == []


def test_memory_and_swap_limits_reach_the_cgroup(docker, images):
    cid = docker.run("run", "-d", "--memory", "48m", "--memory-swap", "96m", "busybox",
                     "sleep", "60").stdout.strip()
    try:
        assert int(cgroup_read("memory", cid, "memory.limit_in_bytes")) == 48 << 20
        if os.path.exists(os.path.join(CGROUP, "memory", "berth", cid, "memory.memsw.limit_in_bytes")):
            assert int(cgroup_read("memory", cid, "memory.memsw.limit_in_bytes")) == 96 << 20
        hc = inspect(docker, cid)["HostConfig"]
        assert hc["Memory"] == 48 << 20 and hc["MemorySwap"] == 96 << 20
    finally:
        docker.run("rm", "-f", cid)
    assert cgroup_dirs(cid) == []


def test_normal_exit_is_not_oomkilled(docker, images):
    docker.run("run", "--name", "calm", "--memory", "32m", "busybox", "true")
    assert docker.run("inspect", "-f", "{{.State.OOMKilled}}", "calm").stdout.strip() == "false"
    docker.run("rm", "calm")


def test_pids_limit_makes_fork_fail_inside(docker, images):
    p = run(docker, "sh", "-c",
            "i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done; echo started $i",
            opts=("--pids-limit", "20"), check=False, timeout=60)
    assert "can't fork" in p.stderr or "Resource temporarily unavailable" in p.stderr, p.stderr


def test_pids_limit_contains_a_fork_bomb(docker, images):
    cid = docker.run("run", "-d", "--pids-limit", "20", "busybox", "sh", "-c",
                     "bomb() { bomb | bomb & }; bomb; sleep 5").stdout.strip()
    try:
        assert cgroup_read("pids", cid, "pids.max") == "20"
        time.sleep(1.5)
        assert int(cgroup_read("pids", cid, "pids.current")) <= 20
        # the host is untouched: the daemon still answers and runs containers
        assert run(docker, "echo", "still-here").stdout == "still-here\n"
    finally:
        docker.run("rm", "-f", cid, timeout=60)
    assert wait_for(lambda: cgroup_dirs(cid) == [])


# ---- filesystem ----

def test_read_only_root_refuses_writes(docker, images):
    p = run(docker, "touch", "/x", opts=("--read-only",), check=False)
    assert p.returncode != 0
    assert "Read-only file system" in p.stderr


def test_read_only_root_with_tmpfs_allows_writes_there(docker, images):
    p = run(docker, "sh", "-c", "echo hi > /scratch/f && cat /scratch/f && touch /x",
            opts=("--read-only", "--tmpfs", "/scratch"), check=False)
    assert p.stdout == "hi\n"
    assert "Read-only file system" in p.stderr


def test_tmpfs_with_size(docker, images):
    p = run(docker, "sh", "-c", "df -k /run | tail -n 1; grep ' /run ' /proc/mounts",
            opts=("--tmpfs", "/run:size=1m",))
    lines = p.stdout.splitlines()
    assert lines[0].split()[1] == "1024", p.stdout
    assert "tmpfs" in lines[1] and "size=1024k" in lines[1]


def test_shm_size(docker, images):
    p = run(docker, "sh", "-c", "df -k /dev/shm | tail -n 1", opts=("--shm-size", "16m"))
    assert p.stdout.split()[1] == "16384", p.stdout
    p = run(docker, "sh", "-c", "df -k /dev/shm | tail -n 1")
    assert p.stdout.split()[1] == "65536", p.stdout


def test_device_mapping(docker, images):
    p = run(docker, "sh", "-c", "ls -l /dev/mynull; echo data > /dev/mynull && echo written",
            opts=("--device", "/dev/null:/dev/mynull"))
    assert p.stdout.startswith("crw")
    assert "1,   3" in p.stdout or "1, 3" in p.stdout
    assert p.stdout.rstrip().endswith("written")


def test_workdir_that_exists(docker, images):
    assert run(docker, "pwd", opts=("--workdir", "/tmp")).stdout == "/tmp\n"


def test_workdir_missing_in_image_is_created(docker, images):
    assert run(docker, "pwd", opts=("-w", "/new/dir")).stdout == "/new/dir\n"
    p = run(docker, "sh", "-c", "pwd; ls -ld /new/dir", opts=("-w", "/new/dir", "--user", "65534"))
    assert p.stdout.splitlines()[0] == "/new/dir"


def test_workdir_through_symlink_stays_in_root(docker, images):
    # /var/spool/mail style: an absolute symlink in the image resolves inside the root
    p = run(docker, "pwd", opts=("-w", "/proc/self/cwd/x"), check=False)
    # refused or created inside the root, never outside; the container must not see the host
    if p.returncode == 0:
        assert p.stdout.strip().startswith("/")


def test_etc_files_are_the_containers(docker, images):
    docker.run("run", "--name", "etc1", "--hostname", "myhost", "busybox", "sh", "-c",
               "hostname; cat /etc/hostname; grep myhost /etc/hosts; test -s /etc/resolv.conf && echo resolv")
    out = docker.run("logs", "etc1").stdout.splitlines()
    assert out[0] == "myhost" and out[1] == "myhost"
    assert "myhost" in out[2]
    assert out[3] == "resolv"
    assert inspect(docker, "etc1")["Config"]["Hostname"] == "myhost"
    docker.run("rm", "etc1")


def test_default_hostname_matches_inspect(docker, images):
    cid = docker.run("run", "-d", "busybox", "sh", "-c", "hostname; cat /etc/hostname; sleep 30").stdout.strip()
    try:
        hn = inspect(docker, cid)["Config"]["Hostname"]
        assert hn == cid[:12]
        wait_for(lambda: docker.run("logs", cid).stdout.count("\n") >= 2)
        assert docker.run("logs", cid).stdout.split() == [hn, hn]
        hosts = docker.run("exec", cid, "cat", "/etc/hosts", check=False).stdout
        if hosts:
            assert hn in hosts
    finally:
        docker.run("rm", "-f", cid)


def test_no_fd_leaks_into_the_container(docker, images):
    p = run(docker, "sh", "-c", "ls /proc/self/fd")
    # 0 1 2 and the directory ls has open (3)
    assert sorted(p.stdout.split(), key=int) == ["0", "1", "2", "3"], p.stdout
    # the init's own: its stdio only (with -i and -t too)
    p = run(docker, "sh", "-c", "ls /proc/1/fd; true", opts=("-i",), input="")
    assert sorted(p.stdout.split(), key=int) == ["0", "1", "2"], p.stdout


def test_no_fd_leaks_into_exec_processes(docker, images):
    cid = docker.run("run", "-d", "busybox", "sleep", "60").stdout.strip()
    try:
        p = docker.run("exec", cid, "ls", "/proc/self/fd")
        assert sorted(p.stdout.split(), key=int) == ["0", "1", "2", "3"], p.stdout
        p = docker.run("exec", cid, "ls", "/proc/1/fd")
        assert sorted(p.stdout.split(), key=int) == ["0", "1", "2"], p.stdout
    finally:
        docker.run("rm", "-f", cid)


def test_workdir_is_created_before_the_root_turns_read_only(docker, images):
    assert run(docker, "pwd", opts=("--read-only", "-w", "/made/here")).stdout == "/made/here\n"


def test_workdir_that_is_a_file_is_refused(docker, images):
    p = run(docker, "pwd", opts=("-w", "/bin/busybox"), check=False)
    assert p.returncode != 0
    assert "not a directory" in p.stderr.lower(), p.stderr


def test_failed_start_leaves_no_cgroups(docker, images):
    p = docker.run("run", "--name", "nocmd", "--memory", "32m", "busybox", "no-such-command", check=False)
    assert p.returncode == 127
    cid = inspect(docker, "nocmd")["Id"]
    assert cgroup_dirs(cid) == []
    docker.run("rm", "nocmd")
    assert mounted_paths_with(cid) == []


# ---- capabilities and privileges ----

def caps_of(text, key):
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1], 16)
    raise AssertionError("no %s in %r" % (key, text))


def host_bounding():
    with open("/proc/self/status") as f:
        return caps_of(f.read(), "CapBnd")


def test_cap_drop_all_makes_chown_fail(docker, images):
    p = run(docker, "chown", "nobody", "/tmp", opts=("--cap-drop", "ALL"), check=False)
    assert p.returncode != 0
    assert "Operation not permitted" in p.stderr
    p = run(docker, "grep", "Cap", "/proc/self/status", opts=("--cap-drop", "ALL"))
    assert caps_of(p.stdout, "CapBnd") == 0 and caps_of(p.stdout, "CapEff") == 0
    assert run(docker, "chown", "nobody", "/tmp").returncode == 0


def test_cap_add_net_admin_is_in_the_bounding_set(docker, images):
    p = run(docker, "grep", "Cap", "/proc/self/status", opts=("--cap-add", "NET_ADMIN"))
    assert caps_of(p.stdout, "CapBnd") & (1 << 12)
    assert caps_of(p.stdout, "CapEff") & (1 << 12)
    p = run(docker, "grep", "Cap", "/proc/self/status")
    assert not caps_of(p.stdout, "CapBnd") & (1 << 12)
    assert caps_of(p.stdout, "CapBnd") == 0xa80425fb  # Docker's default 14


def test_privileged_has_the_hosts_full_set(docker, images):
    p = run(docker, "sh", "-c", "grep Cap /proc/self/status; ls /dev | wc -l; mount | grep ' /sys '",
            opts=("--privileged",))
    assert caps_of(p.stdout, "CapBnd") == host_bounding()
    assert caps_of(p.stdout, "CapEff") == host_bounding()
    assert "(rw" in p.stdout.splitlines()[-1]


def test_no_new_privileges(docker, images):
    p = run(docker, "grep", "NoNewPrivs", "/proc/self/status", opts=("--security-opt", "no-new-privileges"))
    assert p.stdout.split() == ["NoNewPrivs:", "1"]
    p = run(docker, "grep", "NoNewPrivs", "/proc/self/status")
    assert p.stdout.split() == ["NoNewPrivs:", "0"]


# ---- user, env, hostname, ulimits ----

def test_user_numeric_and_name_and_group_add(docker, images):
    assert run(docker, "sh", "-c", "id -u; id -g", opts=("--user", "65534:65534")).stdout.split() == ["65534", "65534"]
    assert run(docker, "sh", "-c", "id -u; id -g", opts=("--user", "1234:5678")).stdout.split() == ["1234", "5678"]
    p = run(docker, "id", opts=("--user", "nobody"))
    assert p.stdout.startswith("uid=65534(nobody)")
    p = run(docker, "id", "-G", opts=("--user", "nobody", "--group-add", "10", "--group-add", "root"))
    groups = p.stdout.split()
    assert "10" in groups and "0" in groups and "65534" in groups
    p = run(docker, "grep", "Cap", "/proc/self/status", opts=("--user", "nobody"))
    assert caps_of(p.stdout, "CapEff") == 0 and caps_of(p.stdout, "CapBnd") != 0
    p = run(docker, "id", opts=("--user", "nosuchuser"), check=False)
    assert p.returncode != 0 and "unable to find user nosuchuser" in p.stderr


def test_env_and_env_file(docker, images):
    with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as f:
        f.write("# comment\nFROM_FILE=file value\nOVERRIDE=file\n")
        path = f.name
    try:
        p = run(docker, "sh", "-c", 'echo "$A|$FROM_FILE|$OVERRIDE|$HOSTNAME|$HOME|$PATH"',
                opts=("-e", "A=1", "--env-file", path, "-e", "OVERRIDE=cli", "--hostname", "h1"))
        assert p.stdout.strip() == "1|file value|cli|h1|/root|" \
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    finally:
        os.unlink(path)


def test_hostname(docker, images):
    assert run(docker, "hostname", opts=("--hostname", "box1")).stdout == "box1\n"


def test_ulimit_nofile(docker, images):
    p = run(docker, "sh", "-c", "ulimit -n; ulimit -Hn", opts=("--ulimit", "nofile=100:200"))
    assert p.stdout.split() == ["100", "200"]


# ---- cpu cgroup values from the host ----

def test_cpu_limits_reach_the_cgroup(docker, images):
    cid = docker.run("run", "-d", "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0",
                     "busybox", "sleep", "60").stdout.strip()
    try:
        assert cgroup_read("cpu", cid, "cpu.cfs_quota_us") == "50000"
        assert cgroup_read("cpu", cid, "cpu.cfs_period_us") == "100000"
        assert cgroup_read("cpu", cid, "cpu.shares") == "512"
        assert cgroup_read("cpuset", cid, "cpuset.cpus") == "0"
    finally:
        docker.run("rm", "-f", cid)
    assert cgroup_dirs(cid) == []
    # the container sees its own cgroup's values
    p = run(docker, "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max", opts=("--cpus", "0.25", "--memory", "40m", "--pids-limit", "33"))
    assert p.stdout.split() == ["25000", str(40 << 20), "33"]


# ---- cleanup ----

def test_stopped_and_removed_containers_leave_no_cgroups_or_mounts(docker, images):
    cid = docker.run("run", "-d", "--memory", "64m", "busybox", "sleep", "60").stdout.strip()
    assert cgroup_dirs(cid), "the running container has cgroups"
    docker.run("stop", "-t", "0", cid)
    assert wait_for(lambda: cgroup_dirs(cid) == []), cgroup_dirs(cid)
    docker.run("rm", cid)
    assert cgroup_dirs(cid) == []
    assert mounted_paths_with(cid) == []
    cid = docker.run("run", "-d", "busybox", "sleep", "60").stdout.strip()
    docker.run("rm", "-f", cid)
    assert wait_for(lambda: cgroup_dirs(cid) == [])
    assert mounted_paths_with(cid) == []
    p = docker.run("run", "--rm", "busybox", "true")
    assert p.returncode == 0


# ---- --init ----

def test_berth_init_binary_reaps_and_forwards(tmp_path):
    assert os.access(BERTH_INIT, os.X_OK), "make builds build/berth-init"
    # exit status of the child, as is
    p = subprocess.run([BERTH_INIT, "--", "sh", "-c", "exit 7"], timeout=10)
    assert p.returncode == 7
    # a signal death becomes 128+n
    p = subprocess.run([BERTH_INIT, "--", "sh", "-c", "kill -TERM $$"], timeout=10)
    assert p.returncode == 128 + 15
    # signals reach the child
    proc = subprocess.Popen([BERTH_INIT, "--", "sh", "-c", "trap 'echo got-term; exit 3' TERM; "
                             "echo ready; while true; do sleep 0.05; done"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(15)
    assert proc.stdout.readline() == "got-term\n"
    assert proc.wait(10) == 3
    # without a command: usage
    p = subprocess.run([BERTH_INIT], capture_output=True, timeout=10)
    assert p.returncode != 0 and b"usage" in p.stderr.lower()
    # a command that does not exist
    p = subprocess.run([BERTH_INIT, "--", "/no/such/thing"], capture_output=True, timeout=10)
    assert p.returncode == 127


def test_berth_init_reaps_orphans_as_pid1():
    # in a new pid namespace berth-init is pid 1 and must reap re-parented zombies
    if subprocess.run(["unshare", "--help"], capture_output=True).returncode != 0:
        pytest.skip("no unshare")
    p = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", BERTH_INIT, "--", "sh", "-c",
                        "(sleep 0.1 & sleep 0.1 & true) ; sleep 0.5; "
                        "cat /proc/1/cmdline | tr '\\0' ' '; echo; "
                        "ls /proc | grep -c '^[0-9]'; grep -l '^State:.Z' /proc/[0-9]*/status | wc -l"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith(BERTH_INIT)
    assert lines[2].strip() == "0", p.stdout  # no zombies left


def test_run_init_shows_docker_init_as_pid1(docker, images, berthd):
    cid = docker.run("create", "--init", "busybox", "ps", "-o", "pid,args").stdout.strip()
    docker.run("start", "-a", cid, check=False)
    bundle = os.path.join(berthd.exec_root, "containers", cid, "config.json")
    spec = {}
    try:
        with open(bundle) as f:
            spec = json.load(f)
    except OSError:
        pass
    has_init = any(m.get("destination") == "/sbin/docker-init" for m in spec.get("mounts", []))
    if not has_init:
        docker.run("rm", "-f", cid)
        pytest.skip("berthd does not pass spec_input.init_path yet (container_start.c write_spec)")
    out = docker.run("logs", cid).stdout
    docker.run("rm", "-f", cid)
    first = out.splitlines()[1].split()
    assert first[0] == "1" and first[1] == "/sbin/docker-init", out
    p = run(docker, "sh", "-c", "exit 5", opts=("--init",), check=False)
    assert p.returncode == 5


def test_init_forwards_stop_signal(docker, images):
    cid = docker.run("run", "-d", "--init", "busybox", "sleep", "60").stdout.strip()
    t0 = time.time()
    docker.run("stop", "-t", "10", cid)
    assert time.time() - t0 < 5  # SIGTERM reached sleep through docker-init: no 10 s wait
    assert inspect(docker, cid)["State"]["ExitCode"] == 143
    docker.run("rm", cid)


# ---- terminals ----

def test_tty_size_at_create_reaches_the_first_program(client, images):
    """HostConfig.ConsoleSize (the client's terminal at create) is the container's from its
    first instruction, as runc applies process.consoleSize: with nobody attached, no resize
    ever comes, and `stty size` must not see 0 0."""
    cid = client.api.create_container("busybox", ["stty", "size"], tty=True,
                                      host_config={"ConsoleSize": [33, 101]})["Id"]
    try:
        client.api.start(cid)
        assert client.api.wait(cid, timeout=30)["StatusCode"] == 0
        assert client.api.logs(cid).split() == [b"33", b"101"]
    finally:
        client.api.remove_container(cid, force=True)


def test_tty_size_is_the_clients(berthd, docker, images):
    env = docker_env(berthd.host, docker.config_dir)
    master, slave = os.openpty()
    # the size is set before the CLI starts: it must reach the container at create
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))

    def make_controlling():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(["docker", "run", "--rm", "-it", "busybox", "sh"], stdin=slave, stdout=slave,
                            stderr=slave, env=env, preexec_fn=make_controlling)
    os.close(slave)
    out = b""

    def read_until(token, timeout=15):
        nonlocal out
        deadline = time.time() + timeout
        while token not in out and time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        return token in out

    try:
        assert read_until(b"# "), out
        os.write(master, b"stty size; tty; echo done-$((1+2))\r")
        assert read_until(b"done-3"), out
        assert b"33 101" in out, out
        assert b"/dev/pts/0" in out, out  # the container's own devpts, as with runc
        out = b""
        # a resize after the start: the kernel sends SIGWINCH to the CLI, which resizes
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        time.sleep(0.5)
        os.write(master, b"stty size; echo done-$((2+2))\r")
        assert read_until(b"done-4"), out
        assert b"40 120" in out, out
        os.write(master, b"exit 0\r")
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
