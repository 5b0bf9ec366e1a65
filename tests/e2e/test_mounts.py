"""Mounts as dockerd takes them: -v /host:/ctr[:ro], --mount type=bind|volume|tmpfs with their
options (and dockerd's errors for options of another type), --volumes-from; what berth lacks
(volume-subpath, volume-opt, other types) is refused with a clear error, never ignored."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import TESTDATA


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


@pytest.fixture
def hostdir():
    d = tempfile.mkdtemp(prefix="berth-bind-")
    with open(os.path.join(d, "in.txt"), "w") as f:
        f.write("from the host\n")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_bind_mount_reads_and_writes_the_host_directory(docker, images, hostdir):
    p = docker.run("run", "--rm", "-v", hostdir + ":/work", "-w", "/work", "busybox", "sh", "-c",
                   "cat in.txt; echo from the container > out.txt")
    assert p.stdout == "from the host\n"
    with open(os.path.join(hostdir, "out.txt")) as f:
        assert f.read() == "from the container\n"


def test_read_only_bind_and_file_bind(docker, images, hostdir):
    p = docker.run("run", "--rm", "-v", hostdir + ":/work:ro", "busybox", "sh", "-c", "echo x > /work/y", check=False)
    assert p.returncode != 0 and "Read-only file system" in p.stderr
    assert not os.path.exists(os.path.join(hostdir, "y"))
    p = docker.run("run", "--rm", "-v", os.path.join(hostdir, "in.txt") + ":/etc/motd:ro", "busybox", "cat", "/etc/motd")
    assert p.stdout == "from the host\n"
    p = docker.run("run", "--rm", "--mount", "type=bind,src=%s,dst=/m,readonly" % hostdir, "busybox", "cat", "/m/in.txt")
    assert p.stdout == "from the host\n"


def test_missing_source_created_for_v_but_not_for_mount(docker, images, hostdir):
    new = os.path.join(hostdir, "made", "here")
    docker.run("run", "--rm", "-v", new + ":/n", "busybox", "touch", "/n/x")
    assert os.path.exists(os.path.join(new, "x"))
    missing = os.path.join(hostdir, "missing")
    p = docker.run("create", "--mount", "type=bind,src=%s,dst=/m" % missing, "busybox", check=False)
    assert p.returncode != 0
    assert 'invalid mount config for type "bind": bind source path does not exist: ' + missing in p.stderr


def test_inspect_shows_the_mounts(docker, images, hostdir):
    cid = docker.run("create", "-v", hostdir + ":/a:ro", "--mount", "type=bind,src=%s,dst=/b" % hostdir,
                     "busybox").stdout.strip()
    try:
        mounts = json.loads(docker.run("inspect", "-f", "{{json .Mounts}}", cid).stdout)
        assert {"Type": "bind", "Source": hostdir, "Destination": "/a", "Mode": "ro", "RW": False,
                "Propagation": "rprivate"} in mounts
        assert {"Type": "bind", "Source": hostdir, "Destination": "/b", "Mode": "", "RW": True,
                "Propagation": "rprivate"} in mounts
    finally:
        docker.run("rm", cid)


def test_bad_mount_specifications_are_refused(docker, images, hostdir):
    cases = [
        (["-v", hostdir + ":relative"], "mount path must be absolute"),
        (["-v", hostdir + ":/"], "invalid specification: destination can't be '/'"),
        (["-v", hostdir + ":/x:bogus"], "invalid mode: bogus"),
        (["-v", hostdir + ":/x", "-v", "/tmp:/x/"], "Duplicate mount point: /x"),
        (["-v", "bad!volume:/data"], "includes invalid characters for a local volume name"),
        (["--volumes-from", "other"], "No such container: other"),
        (["--volumes-from", "other:bogus"], "invalid mode: bogus"),
        (["--volumes-from", "other:rshared"], "invalid mode: rshared"),
        (["--volumes-from", "other:nocopy"], "invalid mode: nocopy"),
        (["--mount", "type=npipe,src=x,dst=/data"], "is not supported by berth yet"),
    ]
    before = docker.run("ps", "-aq").stdout.split()
    for args, msg in cases:
        p = docker.run("create", *args, "busybox", check=False)
        assert p.returncode != 0, args
        assert msg in p.stderr, (args, p.stderr)
    assert docker.run("ps", "-aq").stdout.split() == before  # nothing was created


def test_published_ports_are_discarded_with_the_hosts_network(docker, images):
    # With the host's network they are discarded, as dockerd does, with its warning.
    p = docker.run("create", "--network", "host", "-p", "18080:80", "busybox")
    assert "Published ports are discarded when using host network mode" in p.stderr
    docker.run("rm", p.stdout.strip())


def test_unknown_network_and_donor_are_found_missing_at_start(docker, images):
    # As dockerd: the network is looked up at start; the container stays created.
    p = docker.run("run", "--name", "on-mynet", "--network", "mynet", "busybox", "true", check=False)
    assert p.returncode != 0 and "network mynet not found" in p.stderr
    assert docker.run("inspect", "-f", "{{.State.Status}}", "on-mynet").stdout.strip() == "created"
    docker.run("rm", "on-mynet")
    p = docker.run("run", "--name", "pid-other", "--pid", "container:other", "busybox", "true", check=False)
    assert p.returncode != 0 and "No such container: other" in p.stderr
    docker.run("rm", "pid-other")
    for mode in ("none", "host", "bridge"):
        cid = docker.run("create", "--network", mode, "busybox").stdout.strip()
        docker.run("rm", cid)


def test_mounts_on_or_inside_proc_are_refused_and_host_files_untouched(docker, images, hostdir):
    """A bind over /proc/sys once took the runtime's sysctl writes (net.ipv4.* for the
    private network) into host files. As with runc, nothing may be mounted on or inside
    /proc but a proc filesystem and the few files lxcfs emulates."""
    fs = os.path.join(hostdir, "fs")
    os.makedirs(os.path.join(fs, "net", "ipv4"))
    files = {os.path.join(fs, "net", "ipv4", "ip_unprivileged_port_start"): "1024\n",
             os.path.join(fs, "net", "ipv4", "ping_group_range"): "1\t0\n",
             os.path.join(fs, "sys", "net", "ipv4", "ip_unprivileged_port_start"): "1024\n"}
    os.makedirs(os.path.join(fs, "sys", "net", "ipv4"))
    for path, text in files.items():
        with open(path, "w") as f:
            f.write(text)
    cases = [
        (["-v", fs + ":/proc/sys"], '"/proc/sys" cannot be mounted because it is inside /proc'),
        (["--mount", "type=bind,src=%s,dst=/proc/sys/net" % fs], '"/proc/sys/net" cannot be mounted because it is inside /proc'),
        (["-v", fs + ":/proc"], '"/proc" cannot be mounted because it is not of type proc'),
        (["--tmpfs", "/proc/sys"], '"/proc/sys" cannot be mounted because it is inside /proc'),
    ]
    for args, msg in cases:
        p = docker.run("run", "--rm", *args, "busybox", "true", check=False)
        assert p.returncode != 0, args
        assert msg in p.stderr, (args, p.stderr)
    # A symlink in the image leading into /proc is judged where it leads.
    docker.run("run", "--name", "proc-link", "busybox", "ln", "-s", "/proc/sys", "/sys-link")
    try:
        docker.run("commit", "proc-link", "berth-test/proc-link")
    finally:
        docker.run("rm", "proc-link")
    try:
        p = docker.run("run", "--rm", "-v", fs + ":/sys-link", "berth-test/proc-link", "true", check=False)
        assert p.returncode != 0
        assert '"/proc/sys" cannot be mounted because it is inside /proc' in p.stderr, p.stderr
    finally:
        docker.run("rmi", "berth-test/proc-link")
    for path, text in files.items():
        with open(path) as f:
            assert f.read() == text, path
    assert not docker.run("ps", "-aq").stdout.split()  # --rm removed what failed to start
    # The files lxcfs stands in for stay allowed, as with runc.
    p = docker.run("run", "--rm", "-v", os.path.join(hostdir, "in.txt") + ":/proc/uptime:ro", "busybox",
                   "cat", "/proc/uptime")
    assert p.stdout == "from the host\n"


def test_sysctls_land_in_the_containers_namespaces(docker, images):
    """Sysctls go through a proc filesystem of the runtime's own, in the container's
    network, IPC and UTS namespaces; the host's values stay as they were."""
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        host_port_start = f.read()
    p = docker.run("run", "--rm", "--sysctl", "net.ipv4.ip_unprivileged_port_start=7", "--sysctl", "kernel.shmmni=99",
                   "--domainname", "example.org", "busybox", "sh", "-c",
                   "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range"
                   " /proc/sys/kernel/shmmni /proc/sys/kernel/domainname")
    assert p.stdout.split("\n") == ["7", "0\t2147483647", "99", "example.org", ""]
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        assert f.read() == host_port_start


def test_volumes_from_lends_binds_and_volumes_not_tmpfs(docker, images, hostdir):
    """--volumes-from: the other container's binds and volumes (named, anonymous, the
    image's VOLUMEs) at the same destinations, in its mode unless :ro asks for less; not its
    tmpfs; -v wins on a destination; they stay after the lender is gone."""
    vol = "vf-named-%d" % os.getpid()
    lender = docker.run("create", "--name", "vf-lender", "-v", hostdir + ":/hb:ro", "-v", vol + ":/named",
                        "-v", "/anon", "--tmpfs", "/tm", "busybox", "sh", "-c",
                        "echo lent > /named/f; echo anon > /anon/f").stdout.strip()
    users = []
    try:
        docker.run("start", "-a", "vf-lender")
        lender_mounts = {m["Destination"]: m for m in json.loads(docker.run("inspect", "-f", "{{json .Mounts}}",
                                                                             lender).stdout)}
        p = docker.run("run", "--name", "vf-user", "--volumes-from", "vf-lender", "busybox", "sh", "-c",
                       "cat /named/f /anon/f /hb/in.txt; touch /named/w && echo rw-ok; "
                       "touch /hb/w 2>/dev/null || echo hb-ro; grep -c ' /tm ' /proc/mounts || true")
        users.append("vf-user")
        assert p.stdout.split("\n")[:6] == ["lent", "anon", "from the host", "rw-ok", "hb-ro", "0"]
        info = json.loads(docker.run("inspect", "vf-user").stdout)[0]
        assert info["HostConfig"]["VolumesFrom"] == ["vf-lender"]
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        assert set(mounts) == {"/hb", "/named", "/anon"}
        assert mounts["/named"]["Name"] == vol and mounts["/named"]["Type"] == "volume"
        assert mounts["/named"]["Source"] == lender_mounts["/named"]["Source"] and mounts["/named"]["RW"] is True
        assert mounts["/anon"]["Name"] == lender_mounts["/anon"]["Name"]
        assert mounts["/hb"]["Source"] == hostdir and mounts["/hb"]["RW"] is False

        # :ro makes every lent mount read-only; -v takes a destination back
        other = tempfile.mkdtemp(prefix="berth-bind-")
        try:
            p = docker.run("run", "--name", "vf-ro", "--volumes-from", "vf-lender:ro", "-v", other + ":/anon",
                           "busybox", "sh", "-c", "touch /named/x 2>/dev/null || echo named-ro; touch /anon/mine && echo own")
            users.append("vf-ro")
            assert p.stdout.split() == ["named-ro", "own"]
            assert os.path.exists(os.path.join(other, "mine"))
            mounts = {m["Destination"]: m for m in json.loads(docker.run("inspect", "-f", "{{json .Mounts}}",
                                                                         "vf-ro").stdout)}
            assert mounts["/named"]["RW"] is False and mounts["/anon"]["Type"] == "bind"
        finally:
            shutil.rmtree(other, ignore_errors=True)

        # the lender goes (with -v): what it lent stays for those who borrowed it, its anonymous volume too
        docker.run("rm", "-v", "vf-lender")
        assert docker.run("volume", "inspect", lender_mounts["/anon"]["Name"], check=False).returncode == 0
        p = docker.run("start", "-a", "vf-user")
        assert "lent\nanon\n" in p.stdout
        # a container cannot lend to itself: it does not exist yet
        p = docker.run("create", "--name", "vf-self", "--volumes-from", "vf-self", "busybox", check=False)
        assert p.returncode != 0 and "No such container: vf-self" in p.stderr
    finally:
        for c in users + ["vf-lender"]:
            docker.run("rm", "-f", c, check=False)
        docker.run("volume", "rm", vol, check=False)
        docker.run("volume", "prune", "-f", check=False)


def test_volumes_from_kept_in_the_record_across_a_restart(fresh_daemon, images):
    from conftest import DockerCLI
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cli.run("run", "--name", "lender", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
        cli.run("create", "--name", "user", "--volumes-from", "lender:ro", "busybox", "cat", "/data/f")
        cli.run("rm", "lender")
        d.stop()
        d.start()
        mounts = json.loads(cli.run("inspect", "-f", "{{json .Mounts}}", "user").stdout)
        assert [(m["Type"], m["Name"], m["Destination"], m["RW"]) for m in mounts] == [("volume", "data", "/data", False)]
        assert cli.run("start", "-a", "user").stdout == "kept\n"
        p = cli.run("volume", "rm", "data", check=False)
        assert p.returncode != 0 and "volume is in use" in p.stderr
        cli.run("rm", "user")
        cli.run("volume", "rm", "data")
    finally:
        cli.cleanup()


def test_mount_tmpfs_with_size_mode_and_readonly(docker, images):
    p = docker.run("run", "--rm", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770", "busybox", "sh", "-c",
                   "stat -c %a /t; grep ' /t ' /proc/mounts; touch /t/x && echo wrote")
    lines = p.stdout.splitlines()
    assert lines[0] == "1770"
    opts = lines[1].split()[3].split(",")
    assert "size=1024k" in opts and "mode=1770" in opts and "noexec" in opts and "nosuid" in opts and "nodev" in opts
    assert lines[2] == "wrote"
    p = docker.run("run", "--rm", "--mount", "type=tmpfs,dst=/t,readonly", "busybox", "sh", "-c",
                   "touch /t/x 2>/dev/null || echo refused")
    assert p.stdout.strip() == "refused"
    cid = docker.run("create", "--mount", "type=tmpfs,dst=/t,tmpfs-size=2m", "busybox").stdout.strip()
    try:
        mounts = json.loads(docker.run("inspect", "-f", "{{json .Mounts}}", cid).stdout)
        assert mounts == [{"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "", "RW": True,
                           "Propagation": ""}]
        hm = json.loads(docker.run("inspect", "-f", "{{json .HostConfig.Mounts}}", cid).stdout)
        assert hm[0]["Type"] == "tmpfs" and hm[0]["TmpfsOptions"]["SizeBytes"] == 2 << 20
    finally:
        docker.run("rm", cid)


def test_mount_volume_nocopy_and_bind_recursive_readonly(docker, images, hostdir):
    vol = "nocopy-%d" % os.getpid()
    try:
        docker.run("run", "--rm", "--mount", "type=volume,src=%s,dst=/etc,volume-nocopy" % vol, "busybox", "true")
        mp = json.loads(docker.run("volume", "inspect", vol).stdout)[0]["Mountpoint"]
        assert "passwd" not in os.listdir(mp)
    finally:
        docker.run("volume", "rm", vol, check=False)
    sub = os.path.join(hostdir, "sub")
    os.mkdir(sub)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", sub], check=True)
    try:
        p = docker.run("run", "--rm", "--mount", "type=bind,src=%s,dst=/b,readonly,bind-recursive=readonly,bind-propagation=rprivate" % hostdir,
                       "busybox", "sh", "-c", "touch /b/sub/x 2>/dev/null || echo sub-ro; touch /b/y 2>/dev/null || echo top-ro")
        assert p.stdout.split() == ["sub-ro", "top-ro"]
        assert not os.path.exists(os.path.join(sub, "x"))
        # bind-recursive=disabled: the submount is not taken along
        p = docker.run("run", "--rm", "--mount", "type=bind,src=%s,dst=/b,bind-recursive=disabled" % hostdir,
                       "busybox", "sh", "-c", "grep -c ' /b/sub ' /proc/mounts || true")
        assert p.stdout.strip() == "0"
    finally:
        subprocess.run(["umount", sub], check=True)


@pytest.mark.parametrize("mount,message,status", [
    ({"Type": "volume", "Source": "v1", "Target": "/d", "BindOptions": {"Propagation": "rshared"}},
     'invalid mount config for type "volume": field BindOptions must not be specified', 400),
    ({"Type": "volume", "Source": "v1", "Target": "/d", "TmpfsOptions": {"SizeBytes": 1024}},
     'invalid mount config for type "volume": field TmpfsOptions must not be specified', 400),
    ({"Type": "bind", "Source": "/tmp", "Target": "/d", "VolumeOptions": {"NoCopy": True}},
     'invalid mount config for type "bind": field VolumeOptions must not be specified', 400),
    ({"Type": "bind", "Source": "/tmp", "Target": "/d", "TmpfsOptions": {"Mode": 0o700}},
     'invalid mount config for type "bind": field TmpfsOptions must not be specified', 400),
    ({"Type": "tmpfs", "Target": "/d", "BindOptions": {}},
     'invalid mount config for type "tmpfs": field BindOptions must not be specified', 400),
    ({"Type": "tmpfs", "Target": "/d", "VolumeOptions": {}},
     'invalid mount config for type "tmpfs": field VolumeOptions must not be specified', 400),
    ({"Type": "tmpfs", "Source": "x", "Target": "/d"},
     'invalid mount config for type "tmpfs": field Source must not be specified', 400),
    ({"Type": "tmpfs", "Target": "/d", "TmpfsOptions": {"Options": [["nosuid"]]}},
     'invalid mount config for type "tmpfs": invalid option: nosuid', 400),
    ({"Type": "volume", "Target": "/d", "VolumeOptions": {"Subpath": "a"}},
     'invalid mount config for type "volume": must not set Subpath when using anonymous volumes', 400),
    ({"Type": "volume", "Source": "v1", "Target": "/d", "VolumeOptions": {"Subpath": "../etc"}},
     'invalid mount config for type "volume": subpath must be a relative path within the volume', 400),
    ({"Type": "volume", "Source": "v1", "Target": "/d", "VolumeOptions": {"Subpath": "/etc"}},
     'invalid mount config for type "volume": subpath must be a relative path within the volume', 400),
    ({"Type": "volume", "Source": "v1", "Target": "/d", "VolumeOptions": {"DriverConfig": {"Options": {"o": "x"}}}},
     'missing required option: "device"', 400),
    ({"Type": "volume", "Source": "v1", "Target": "/d", "VolumeOptions": {"DriverConfig": {"Name": "nfs-plugin"}}},
     'error looking up volume plugin nfs-plugin: plugin "nfs-plugin" not found', 404),
])
def test_mount_options_that_do_not_match_the_type_are_refused(client, images, mount, message, status):
    import docker as dockerpy
    before = client.api.containers(all=True)
    with pytest.raises(dockerpy.errors.APIError) as e:
        client.api.create_container("busybox", host_config={"Mounts": [mount]})
    assert e.value.status_code == status
    assert message in e.value.explanation
    assert client.api.containers(all=True) == before


def test_mount_volume_subpath_stays_inside_the_volume(docker, client, images):
    vol = "subpath-%d" % os.getpid()
    cid = None
    try:
        docker.run("run", "--rm", "-v", vol + ":/v", "busybox", "sh", "-c",
                   "mkdir -p /v/a/b && echo deep > /v/a/b/f && ln -s /etc /v/esc && ln -s ../../a /v/a/b/up")
        p = docker.run("run", "--rm", "--mount", "type=volume,src=%s,dst=/d,volume-subpath=a/b" % vol, "busybox",
                       "sh", "-c", "cat /d/f; ls /d")
        assert p.stdout.split() == ["deep", "f", "up"]
        # a link in the volume resolves inside it: /etc of the volume does not exist
        p = docker.run("run", "--rm", "--mount", "type=volume,src=%s,dst=/d,volume-subpath=esc" % vol, "busybox",
                       "ls", "/d", check=False)
        assert p.returncode != 0 and "cannot access path" in p.stderr
        p = docker.run("run", "--rm", "--mount", "type=volume,src=%s,dst=/d,volume-subpath=nope" % vol, "busybox",
                       "ls", "/d", check=False)
        assert p.returncode != 0 and "cannot access path" in p.stderr
        # docker cp reads through the same part of the volume
        cid = docker.run("create", "--mount", "type=volume,src=%s,dst=/d,volume-subpath=a/b" % vol,
                         "busybox").stdout.strip()
        bits, _ = client.api.get_archive(cid, "/d/f")
        import io
        import tarfile
        with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as t:
            assert t.extractfile("f").read() == b"deep\n"
        mounts = json.loads(docker.run("inspect", "-f", "{{json .Mounts}}", cid).stdout)
        assert [(m["Type"], m["Name"], m["Destination"]) for m in mounts] == [("volume", vol, "/d")]
        docker.run("start", cid)
        docker.run("rm", "-f", cid)
        cid = None
        with open("/proc/self/mountinfo") as f:
            assert not [line for line in f if "/subpath/" in line]
    finally:
        if cid:
            docker.run("rm", "-f", cid, check=False)
        docker.run("volume", "rm", vol, check=False)


def test_mount_bind_create_mountpoint_makes_the_missing_source(client, images, hostdir):
    missing = os.path.join(hostdir, "made", "by", "mount")
    c = client.api.create_container("busybox", ["touch", "/m/x"], host_config={"Mounts": [
        {"Type": "bind", "Source": missing, "Target": "/m", "BindOptions": {"CreateMountpoint": True}}]})
    try:
        client.api.start(c["Id"])
        assert client.api.wait(c["Id"])["StatusCode"] == 0
        assert os.path.exists(os.path.join(missing, "x"))
    finally:
        client.api.remove_container(c["Id"], force=True)
