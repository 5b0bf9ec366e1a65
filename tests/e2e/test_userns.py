"""--userns-remap: containers run in a user namespace mapped to the subordinate ranges of a
user in /etc/subuid and /etc/subgid, as with dockerd. The module makes a user of its own
(berthtest) with a range it picks, and gives /etc/passwd, /etc/subuid and /etc/subgid back
as they were when it is done. What a user sees: root in the container is the mapped uid on
the host (files it creates in a bind mount, its volumes), cannot read the host root's 0600
file, --userns=host opts out, dockerd's refusals, a data root of its own per mapping, and
pull, run, exec, logs, commit, cp and export all work with the remapping."""
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile

import pytest

from conftest import TESTDATA, Berthd, DockerCLI
from registry import Registry, extract_storage

FIX = os.path.join(TESTDATA, "fixtures")
USER = "berthtest"
RANGE = 65536
SUBID_FILES = ("/etc/subuid", "/etc/subgid")
# with the backups shadow's tools leave: given back as they were too
SAVED_FILES = SUBID_FILES + ("/etc/subuid-", "/etc/subgid-")


def taken_ranges():
    out = []
    for f in SUBID_FILES:
        try:
            for line in open(f):
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                    out.append((int(parts[1]), int(parts[2])))
        except FileNotFoundError:
            pass
    return out


def free_start():
    """A start for RANGE ids that no line of /etc/subuid or /etc/subgid overlaps."""
    start = 700000
    while any(s < start + RANGE and start < s + n for s, n in taken_ranges()):
        start += RANGE
    return start


class SubidUser:
    """A system user with one subordinate range, removed (and the files restored) at the end."""

    def __init__(self, name):
        self.name = name
        self.saved = {}
        for f in SAVED_FILES:
            self.saved[f] = open(f).read() if os.path.exists(f) else None
        subprocess.run(["useradd", "-r", "-s", "/bin/false", name], check=True, capture_output=True)
        self.start = free_start()
        for f in SUBID_FILES:
            with open(f, "a") as fh:
                fh.write("%s:%d:%d\n" % (name, self.start, RANGE))

    def remove(self):
        for f, text in self.saved.items():
            if text is None:
                if os.path.exists(f):
                    os.unlink(f)
            else:
                with open(f, "w") as fh:
                    fh.write(text)
        subprocess.run(["userdel", self.name], capture_output=True)


def remap_daemon(base, *extra):
    """A berthd with --userns-remap on @base (0711: the remapped root must get through)."""
    os.chmod(base, 0o711)
    return Berthd(["--userns-remap", USER, *extra], base=base)


@pytest.fixture(scope="module")
def remap_user():
    u = SubidUser(USER)
    yield u
    u.remove()


@pytest.fixture(scope="module")
def peer_registry():
    storage = tempfile.mkdtemp(prefix="berth-userns-registry-")
    extract_storage(os.path.join(FIX, "registry", "peer-registry-storage.tar"), storage)
    reg = Registry(storage=storage).start()
    yield reg
    reg.cleanup()
    shutil.rmtree(storage, ignore_errors=True)


@pytest.fixture(scope="module")
def remapped(remap_user):
    d = remap_daemon(tempfile.mkdtemp(prefix="berth-e2e-userns-")).start()
    cli = DockerCLI(d.host)
    cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
    yield d, cli
    for c in cli.run("ps", "-aq", check=False).stdout.split():
        cli.run("rm", "-f", c, check=False)
    cli.cleanup()
    d.cleanup()


@pytest.fixture
def hostdir():
    d = tempfile.mkdtemp(prefix="berth-userns-bind-")
    os.chmod(d, 0o1777)  # anyone may create files here: ownership is what is tested
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_root_in_the_container_is_the_mapped_uid(remapped, remap_user):
    d, cli = remapped
    out = cli.run("run", "--rm", "busybox", "sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map").stdout
    lines = out.split("\n")
    assert lines[0] == "0" and lines[1] == "0"
    assert lines[2].split() == ["0", str(remap_user.start), str(RANGE)]
    assert lines[3].split() == ["0", str(remap_user.start), str(RANGE)]


def test_file_made_by_root_in_a_bind_mount_belongs_to_the_mapped_uid(remapped, remap_user, hostdir):
    d, cli = remapped
    cli.run("run", "--rm", "-v", hostdir + ":/h", "busybox", "sh", "-c", "echo x > /h/made; mkdir /h/dir")
    for name in ("made", "dir"):
        st = os.stat(os.path.join(hostdir, name))
        assert (st.st_uid, st.st_gid) == (remap_user.start, remap_user.start)
    # and the container sees it as its root's
    out = cli.run("run", "--rm", "-v", hostdir + ":/h", "busybox", "stat", "-c", "%u:%g", "/h/made").stdout
    assert out.strip() == "0:0"


def test_root_in_the_container_cannot_read_the_hosts_0600_root_file(remapped, hostdir):
    d, cli = remapped
    secret = os.path.join(hostdir, "secret")
    with open(secret, "w") as f:
        f.write("host secret\n")
    os.chmod(secret, 0o600)
    os.chown(secret, 0, 0)
    p = cli.run("run", "--rm", "-v", secret + ":/secret", "busybox", "cat", "/secret", check=False)
    assert p.returncode != 0
    assert "Permission denied" in p.stderr and "host secret" not in p.stdout
    # nor write it, nor change its mode: capabilities hold only over what the namespace maps
    p = cli.run("run", "--rm", "-v", secret + ":/secret", "busybox", "sh", "-c",
                "echo owned > /secret || chmod 666 /secret", check=False)
    assert p.returncode != 0
    assert open(secret).read() == "host secret\n" and stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    # --userns=host is the host's root again
    p = cli.run("run", "--rm", "--userns=host", "-v", secret + ":/secret", "busybox", "cat", "/secret")
    assert p.stdout == "host secret\n"


def test_userns_host_opts_a_container_out(remapped, hostdir):
    d, cli = remapped
    out = cli.run("run", "--rm", "--userns=host", "-v", hostdir + ":/h", "busybox", "sh", "-c",
                  "cat /proc/self/uid_map; touch /h/hostroot").stdout
    assert out.split() == ["0", "0", "4294967295"]
    assert os.stat(os.path.join(hostdir, "hostroot")).st_uid == 0
    # dockerd allows --privileged, --net host and --pid host with --userns=host
    out = cli.run("run", "--rm", "--userns=host", "--privileged", "--net", "host", "--pid", "host", "busybox",
                  "cat", "/proc/self/uid_map").stdout
    assert out.split() == ["0", "0", "4294967295"]


def test_dockerds_refusals_without_userns_host(remapped):
    d, cli = remapped
    cases = [
        (["--privileged"], "privileged mode is incompatible with user namespaces.  You must run the container "
                           "in the host namespace when running privileged mode"),
        (["--net", "host"], "cannot share the host's network namespace when user namespaces are enabled"),
        (["--pid", "host"], "cannot share the host PID namespace when user namespaces are enabled"),
    ]
    before = cli.run("ps", "-aq").stdout.split()
    for args, msg in cases:
        p = cli.run("run", "--rm", *args, "busybox", "true", check=False)
        assert p.returncode == 125 and msg in p.stderr, (args, p.stderr)
    # the CLI knows only "host"; the API answers other modes as dockerd does
    import docker as dockerpy
    api = dockerpy.APIClient(base_url=d.host, version="1.45")
    try:
        r = api._post_json(api._url("/containers/create"),
                           data={"Image": "busybox", "Cmd": ["true"], "HostConfig": {"UsernsMode": "private"}})
        assert r.status_code == 400 and r.json()["message"] == "invalid USER mode: private"
    finally:
        api.close()
    assert cli.run("ps", "-aq").stdout.split() == before  # refused at create: nothing made


def test_capabilities_are_the_namespaces(remapped):
    d, cli = remapped
    # CAP_SYS_ADMIN in the container's own user namespace: a mount of its own works...
    out = cli.run("run", "--rm", "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "busybox", "sh",
                  "-c", "mkdir /m && mount -t tmpfs none /m && echo mounted").stdout
    assert out.strip() == "mounted"
    # ...but nothing over the host's: CAP_SYS_NICE counts only in the host's user namespace
    renice = ["busybox", "sh", "-c", "renice -n -5 -p $$ && echo reniced"]
    p = cli.run("run", "--rm", "--cap-add", "SYS_NICE", *renice, check=False)
    assert p.returncode != 0 and "Permission denied" in p.stderr
    assert cli.run("run", "--rm", "--userns=host", "--cap-add", "SYS_NICE", *renice).stdout.strip() == "reniced"


def test_volume_belongs_to_the_mapped_root(remapped, remap_user):
    d, cli = remapped
    cli.run("volume", "create", "uvol")
    try:
        out = cli.run("run", "--rm", "-v", "uvol:/data", "busybox", "sh", "-c",
                      "echo v > /data/f && stat -c %u:%g /data /data/f").stdout.split()
        assert out == ["0:0", "0:0"]
        mp = json.loads(cli.run("volume", "inspect", "uvol").stdout)[0]["Mountpoint"]
        assert mp.startswith(d.data_root + "/%d.%d/" % (remap_user.start, remap_user.start))
        st = os.stat(os.path.join(mp, "f"))
        assert (st.st_uid, st.st_gid) == (remap_user.start, remap_user.start)
    finally:
        cli.run("volume", "rm", "uvol", check=False)


def test_info_shows_userns_and_the_remapped_root(remapped, remap_user):
    d, cli = remapped
    info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
    assert "name=userns" in info["SecurityOptions"]
    assert info["DockerRootDir"] == os.path.join(d.data_root, "%d.%d" % (remap_user.start, remap_user.start))
    st = os.stat(info["DockerRootDir"])
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, remap_user.start, 0o710)


def test_pull_run_exec_logs_commit_cp_export(remapped, remap_user, peer_registry, hostdir):
    d, cli = remapped
    ref = peer_registry.host + "/layered"
    cli.run("pull", ref)
    try:
        # the image's own user (nobody), its whiteouts and opaque directory, its volume
        # seeded from the image: all as without remapping
        out = cli.run("run", "--rm", ref, "sh", "-c",
                      "id -u; ls /app/opq; ls /app/keep; test -e /app/gone || echo gone; "
                      "stat -c %u:%g /data/seed.txt; echo w > /data/w && echo wrote").stdout.split()
        assert out == ["65534", "new.txt", "kept.txt", "gone", "65534:65534", "wrote"]
        cli.run("run", "-d", "-u", "0", "--name", "work", ref, "sh", "-c",
                "echo started; echo mine > /mine; mkdir /own; chown 5:6 /own; sleep 600")
        out = cli.run("exec", "work", "sh", "-c", "until [ -e /own ]; do sleep 0.1; done; "
                      "id -u; cat /proc/self/uid_map; stat -c %u:%g /own").stdout.split()
        assert out == ["0", "0", str(remap_user.start), str(RANGE), "5:6"]
        assert "started" in cli.run("logs", "work").stdout
        # docker cp both ways speaks the container's ids
        src = os.path.join(hostdir, "in")
        with open(src, "w") as f:
            f.write("in\n")
        cli.run("cp", src, "work:/in")
        assert cli.run("exec", "work", "stat", "-c", "%u:%g", "/in").stdout.strip() == "0:0"
        cli.run("cp", "work:/own", os.path.join(hostdir, "out"))
        # commit: the new image's files belong to the container's ids, not the host's
        cli.run("commit", "work", "committed:1")
        out = cli.run("run", "--rm", "-u", "0", "committed:1", "stat", "-c", "%n %u:%g", "/mine", "/own", "/in").stdout
        assert out.split("\n")[:3] == ["/mine 0:0", "/own 5:6", "/in 0:0"]
        # export: the tar names the container's owners
        exp = os.path.join(hostdir, "exp.tar")
        cli.run("export", "-o", exp, "work")
        with tarfile.open(exp) as t:
            own = t.getmember("own")
            mine = t.getmember("mine")
        assert (own.uid, own.gid) == (5, 6) and (mine.uid, mine.gid) == (0, 0)
    finally:
        cli.run("rm", "-f", "work", check=False)
        cli.run("rmi", "-f", "committed:1", ref, check=False)


def test_container_outlives_a_daemon_restart_and_exec_joins_its_namespace(remapped, remap_user):
    d, cli = remapped
    cli.run("run", "-d", "--name", "live", "busybox", "sleep", "600")
    try:
        before = cli.run("exec", "live", "readlink", "/proc/self/ns/user").stdout.strip()
        d.stop()
        d.start()
        out = cli.run("exec", "live", "sh", "-c", "readlink /proc/self/ns/user; id -u; cat /proc/self/uid_map")
        lines = out.stdout.split("\n")
        assert lines[0] == before and lines[1] == "0"
        assert lines[2].split() == ["0", str(remap_user.start), str(RANGE)]
        assert cli.run("inspect", "-f", "{{.State.Running}}", "live").stdout.strip() == "true"
    finally:
        cli.run("rm", "-f", "live", check=False)


def test_sharing_a_containers_namespaces_shares_its_user_namespace(remapped):
    """dockerd: --net/--pid container:<x> join <x>'s user namespace too (else the namespaces
    joined would not be the new one's to use)."""
    d, cli = remapped
    cli.run("run", "-d", "--name", "donor", "busybox", "sleep", "600")
    try:
        own = cli.run("exec", "donor", "readlink", "/proc/self/ns/user").stdout.strip()
        for mode in (["--net", "container:donor"], ["--pid", "container:donor"]):
            out = cli.run("run", "--rm", *mode, "busybox", "readlink", "/proc/self/ns/user").stdout.strip()
            assert out == own, mode
        # a container of its own has a user namespace of its own, with the same maps
        other = cli.run("run", "--rm", "busybox", "readlink", "/proc/self/ns/user").stdout.strip()
        assert other != own
    finally:
        cli.run("rm", "-f", "donor")


def test_docker_py_runs_with_and_without_the_user_namespace(remapped, remap_user):
    import docker as dockerpy
    d, cli = remapped
    c = dockerpy.DockerClient(base_url=d.host, version="auto", timeout=30)
    try:
        out = c.containers.run("busybox", ["cat", "/proc/self/uid_map"], remove=True)
        assert out.decode().split() == ["0", str(remap_user.start), str(RANGE)]
        out = c.containers.run("busybox", ["cat", "/proc/self/uid_map"], remove=True, userns_mode="host")
        assert out.decode().split() == ["0", "0", "4294967295"]
        with pytest.raises(dockerpy.errors.APIError) as e:
            c.containers.run("busybox", "true", remove=True, privileged=True)
        assert e.value.status_code == 400 and "incompatible with user namespaces" in str(e.value)
    finally:
        c.close()


def test_images_of_another_mapping_are_not_seen(remap_user):
    base = tempfile.mkdtemp(prefix="berth-e2e-userns-roots-")
    plain = Berthd(base=base)
    try:
        plain.start()
        cli = DockerCLI(plain.host)
        cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
        assert "busybox" in cli.run("images").stdout
        plain.stop()
        d = remap_daemon(base)
        d.start()
        try:
            assert "busybox" not in DockerCLI(d.host).run("images").stdout
        finally:
            d.stop()
        assert os.path.isdir(os.path.join(plain.data_root, "%d.%d" % (remap_user.start, remap_user.start)))
        plain.start()
        assert "busybox" in cli.run("images").stdout
        cli.cleanup()
    finally:
        plain.cleanup()


def test_remap_user_errors_as_dockerd(fresh_daemon):
    for spec, msg in [("nosuchuser-berth", 'Error during uid lookup for "nosuchuser-berth"'),
                      ("a:b:c", 'Invalid user/group specification in --userns-remap: "a:b:c"'),
                      ("root:nosuchgroup-berth", 'Error during groupname lookup for "nosuchgroup-berth"')]:
        d = fresh_daemon("--userns-remap", spec, start=False)
        d.start(wait=False)
        assert d.proc.wait(10) != 0
        assert msg in d.read_log(), d.read_log()
    # a user without subordinate ranges
    subprocess.run(["useradd", "-r", "-s", "/bin/false", "berthnorange"], check=True, capture_output=True)
    try:
        d = fresh_daemon("--userns-remap", "berthnorange", start=False)
        d.start(wait=False)
        assert d.proc.wait(10) != 0
        assert 'no subuid ranges found for user "berthnorange"' in d.read_log()
    finally:
        subprocess.run(["userdel", "berthnorange"], capture_output=True)


def test_default_creates_dockremap_with_ranges_of_its_own(remap_user):
    """--userns-remap default: dockerd's "dockremap" user, made with useradd and given a free
    range in both files when it does not exist; everything made is undone afterwards."""
    existed = subprocess.run(["id", "dockremap"], capture_output=True).returncode == 0
    saved = {f: (open(f).read() if os.path.exists(f) else None) for f in SAVED_FILES}
    base = tempfile.mkdtemp(prefix="berth-e2e-userns-default-")
    os.chmod(base, 0o711)
    d = Berthd(["--userns-remap", "default"], base=base)
    try:
        d.start()
        assert subprocess.run(["id", "dockremap"], capture_output=True).returncode == 0
        starts = []
        for f in SUBID_FILES:
            mine = [l.split(":") for l in open(f).read().split("\n") if l.startswith("dockremap:")]
            assert mine, "no dockremap range in " + f
            starts.append(int(mine[0][1]))
            if not existed:  # a new range overlaps no one else's
                others = [(s, n) for s, n in taken_ranges() if (s, n) != (starts[-1], int(mine[0][2]))]
                assert not any(s < starts[-1] + int(mine[0][2]) and starts[-1] < s + n for s, n in others)
        cli = DockerCLI(d.host)
        info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
        assert info["DockerRootDir"] == os.path.join(d.data_root, "%d.%d" % (starts[0], starts[1]))
        cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
        out = cli.run("run", "--rm", "busybox", "cat", "/proc/self/uid_map").stdout.split()
        assert out == ["0", str(starts[0]), str(RANGE)] or existed
        cli.cleanup()
    finally:
        d.cleanup()
        if not existed:
            subprocess.run(["userdel", "dockremap"], capture_output=True)
            subprocess.run(["groupdel", "dockremap"], capture_output=True)
            for f, text in saved.items():
                if text is None:
                    if os.path.exists(f):
                        os.unlink(f)
                else:
                    with open(f, "w") as fh:
                        fh.write(text)
