"""docker cp out of and into containers: files, trees (hard and symbolic links kept), the
container's mounts, stopped containers, the stat header, ownership, and the errors."""
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import io

import pytest

from conftest import TESTDATA, docker_env


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


@pytest.fixture
def work():
    d = tempfile.mkdtemp(prefix="berth-cp-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_cp_out_of_a_stopped_container(docker, images, work):
    hostdir = os.path.join(work, "mounted")
    os.makedirs(hostdir)
    cid = docker.run("create", "-v", hostdir + ":/mnt", "busybox", "sh", "-c",
                     "mkdir -p /out/sub && echo hello > /out/a.txt && echo deep > /out/sub/b && "
                     "ln -s a.txt /out/link && ln /out/a.txt /out/hard && chmod 4755 /out/sub/b && "
                     "echo from-mount > /mnt/m").stdout.strip()
    docker.run("start", "-a", cid)
    try:
        dst = os.path.join(work, "out")
        docker.run("cp", cid + ":/out", dst)
        assert open(os.path.join(dst, "a.txt")).read() == "hello\n"
        assert open(os.path.join(dst, "sub", "b")).read() == "deep\n"
        assert os.readlink(os.path.join(dst, "link")) == "a.txt"
        assert os.stat(os.path.join(dst, "hard")).st_ino == os.stat(os.path.join(dst, "a.txt")).st_ino
        assert os.stat(os.path.join(dst, "sub", "b")).st_mode & 0o7777 == 0o4755
        # The container's mounts are part of its view.
        docker.run("cp", cid + ":/mnt/m", os.path.join(work, "m"))
        assert open(os.path.join(work, "m")).read() == "from-mount\n"
        # "dir/." copies the contents; "-" writes the tar to stdout.
        docker.run("cp", cid + ":/out/.", os.path.join(work, "dot"))
        assert sorted(os.listdir(os.path.join(work, "dot"))) == ["a.txt", "hard", "link", "sub"]
        p = subprocess.run(["docker", "cp", cid + ":/out/a.txt", "-"], capture_output=True, timeout=30,
                           env=docker_env(docker.host, docker.config_dir))
        t = tarfile.open(fileobj=io.BytesIO(p.stdout))
        assert t.getnames() == ["a.txt"] and t.extractfile("a.txt").read() == b"hello\n"
        # Nothing of the copy stays mounted.
        mounts = open("/proc/self/mountinfo").read()
        assert cid not in mounts
    finally:
        docker.run("rm", cid)


def test_cp_stat_header_and_errors(docker, client, images):
    cid = docker.run("run", "-d", "busybox", "sh", "-c", "ln -s /etc/passwd /tmp/pw; sleep 300").stdout.strip()
    try:
        import time
        time.sleep(0.3)
        st = client.api.get_archive(cid, "/etc/passwd")[1]
        assert st["name"] == "passwd" and st["size"] > 0 and st["mode"] == 0o644 and st["linkTarget"] == ""
        st = client.api.get_archive(cid, "/tmp/pw")[1]
        assert st["mode"] & (1 << 27) and st["linkTarget"] == "/etc/passwd"  # os.ModeSymlink
        st = client.api.get_archive(cid, "/etc")[1]
        assert st["mode"] & (1 << 31)  # os.ModeDir
        import docker as dockerpy
        with pytest.raises(dockerpy.errors.NotFound) as e:
            client.api.get_archive(cid, "/nope")
        assert "Could not find the file /nope in container" in str(e.value)
        # A path that climbs out stays inside the container's root.
        data = b"".join(client.api.get_archive(cid, "/../../../../etc/hostname")[0])
        t = tarfile.open(fileobj=io.BytesIO(data))
        assert t.extractfile("hostname").read().strip() == cid[:12].encode()
    finally:
        docker.run("rm", "-f", cid)


def test_cp_into_a_container(docker, client, images, work):
    src = os.path.join(work, "src")
    os.makedirs(os.path.join(src, "sub"))
    with open(os.path.join(src, "f"), "w") as f:
        f.write("one\n")
    with open(os.path.join(src, "sub", "g"), "w") as f:
        f.write("two\n")
    os.symlink("f", os.path.join(src, "l"))
    with open(os.path.join(src, ".wh.literal"), "w") as f:
        f.write("not a whiteout\n")
    os.chown(os.path.join(src, "f"), 1234, 1234)
    ro = os.path.join(work, "ro")
    os.makedirs(ro)
    cid = docker.run("run", "-d", "-v", ro + ":/ro:ro", "busybox", "sleep", "300").stdout.strip()
    try:
        docker.run("cp", src, cid + ":/tmp/")
        out = docker.run("exec", cid, "sh", "-c",
                         "cat /tmp/src/f /tmp/src/sub/g /tmp/src/.wh.literal; readlink /tmp/src/l; "
                         "stat -c %u:%g /tmp/src/f").stdout
        assert out == "one\ntwo\nnot a whiteout\nf\n0:0\n"  # owned by root without -a
        docker.run("cp", "-a", os.path.join(src, "f"), cid + ":/kept")
        assert docker.run("exec", cid, "stat", "-c", "%u:%g", "/kept").stdout.strip() == "1234:1234"
        docker.run("cp", os.path.join(src, "f"), cid + ":/renamed")
        assert docker.run("exec", cid, "cat", "/renamed").stdout == "one\n"
        p = docker.run("cp", os.path.join(src, "f"), cid + ":/ro/x", check=False)
        assert p.returncode != 0 and "mounted volume is marked read-only" in p.stderr
        assert not os.path.exists(os.path.join(ro, "x"))
        p = docker.run("cp", os.path.join(src, "f"), cid + ":/nodir/x", check=False)
        assert p.returncode != 0 and "Could not find the file /nodir in container" in p.stderr
        # The API refuses a target that is not a directory, and keeps dirs and non-dirs apart
        # when asked to.
        import docker as dockerpy
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            ti = tarfile.TarInfo("renamed")
            ti.type = tarfile.DIRTYPE
            t.addfile(ti)
        with pytest.raises(dockerpy.errors.APIError) as e:
            client.api.put_archive(cid, "/renamed", buf.getvalue())
        assert e.value.status_code == 400 and "extraction point is not a directory" in str(e.value)
        r = client.api._put(client.api._url("/containers/{0}/archive", cid),
                            params={"path": "/", "noOverwriteDirNonDir": "true"}, data=buf.getvalue())
        assert r.status_code == 400 and "cannot overwrite non-directory" in r.text
        # A hostile archive stays inside the target directory.
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            ti = tarfile.TarInfo("../../../../escape")
            ti.size = 3
            t.addfile(ti, io.BytesIO(b"bad"))
        try:
            client.api.put_archive(cid, "/tmp", buf.getvalue())
        except dockerpy.errors.APIError:
            pass
        assert not os.path.exists("/escape")
        # Into a stopped container too.
        docker.run("stop", "-t", "0", cid)
        docker.run("cp", os.path.join(src, "f"), cid + ":/while-stopped")
        docker.run("start", cid)
        assert docker.run("exec", cid, "cat", "/while-stopped").stdout == "one\n"
    finally:
        docker.run("rm", "-f", cid)


def test_cp_deep_trees_long_names_and_special_files(docker, images, work):
    long = "n" * 200
    cid = docker.run("run", "-d", "busybox", "sh", "-c",
                     "d=/deep; for i in $(seq 1 150); do d=$d/dd; done; mkdir -p $d && echo bottom > $d/f; "
                     "mkdir -p /ln/%s && echo long > /ln/%s/%s && mkfifo /ln/fifo && "
                     "ln -s /ln/%s/%s /ln/far && sleep 300" % (long, long, long, long, long)).stdout.strip()
    try:
        import time
        time.sleep(0.5)
        docker.run("cp", cid + ":/deep", os.path.join(work, "deep"), timeout=60)
        p = os.path.join(work, "deep", *(["dd"] * 150), "f")
        assert open(p).read() == "bottom\n"
        docker.run("cp", cid + ":ln", os.path.join(work, "ln"))  # relative: from the root, as dockerd
        assert open(os.path.join(work, "ln", long, long)).read() == "long\n"
        assert os.readlink(os.path.join(work, "ln", "far")) == "/ln/%s/%s" % (long, long)
        import stat
        assert stat.S_ISFIFO(os.lstat(os.path.join(work, "ln", "fifo")).st_mode)
        # the daemon is still there
        assert docker.run("version").returncode == 0
    finally:
        docker.run("rm", "-f", cid)


def test_export_gives_the_root_filesystem(docker, images, work):
    cid = docker.run("create", "busybox", "sh", "-c", "echo x > /added; rm /bin/ls").stdout.strip()
    docker.run("start", "-a", cid)
    try:
        out = os.path.join(work, "e.tar")
        docker.run("export", "-o", out, cid)
        with tarfile.open(out) as t:
            names = t.getnames()
            assert "added" in names and "bin/sh" in names and "bin/ls" not in names
            assert ".dockerenv" in names  # dockerd's marker file, made at start
            assert not any(n.startswith("/") or n.startswith("..") for n in names)
            assert t.extractfile("added").read() == b"x\n"
        # and it imports back
        docker.run("import", out, "berth-exported:1")
        assert docker.run("run", "--rm", "berth-exported:1", "cat", "/added").stdout == "x\n"
        docker.run("rmi", "berth-exported:1")
    finally:
        docker.run("rm", cid)


def test_commit_makes_an_image_of_the_container(docker, client, images):
    cid = docker.run("create", "busybox", "sh", "-c",
                     "echo added > /added; rm /bin/ls; rm -rf /opq; mkdir /opq; echo x > /opq/y").stdout.strip()
    docker.run("start", "-a", cid)
    try:
        new = docker.run("commit", "-c", 'CMD ["cat", "/added"]', "-m", "my message", "-a", "someone", cid,
                         "berth-committed:1").stdout.strip()
        assert new.startswith("sha256:")
        assert docker.run("run", "--rm", "berth-committed:1").stdout == "added\n"
        p = docker.run("run", "--rm", "berth-committed:1", "ls", "/bin/ls", check=False)
        assert p.returncode != 0  # the deletion is a whiteout in the new layer
        info = json.loads(docker.run("image", "inspect", "berth-committed:1").stdout)[0]
        assert info["Comment"] == "my message" and info["Author"] == "someone"
        assert info["Config"]["Cmd"] == ["cat", "/added"]
        base = json.loads(docker.run("image", "inspect", "busybox").stdout)[0]
        assert info["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
        assert len(info["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
        hist = docker.run("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}",
                          "berth-committed:1").stdout.splitlines()
        assert hist[0].startswith("sh -c echo added") and hist[0].endswith("|my message")
        # A running container is paused for the commit and goes on afterwards.
        live = client.containers.run("busybox", ["sh", "-c", "echo live > /live; sleep 300"], detach=True)
        try:
            import time
            time.sleep(0.3)
            img = live.commit(repository="berth-committed", tag="2")
            assert docker.run("run", "--rm", "berth-committed:2", "cat", "/live").stdout == "live\n"
            live.reload()
            assert live.status == "running"
            assert img.id.startswith("sha256:")
        finally:
            live.remove(force=True)
        # The committed image saves and loads like any other.
        docker.run("rmi", "berth-committed:2")
    finally:
        docker.run("rm", cid)
        docker.run("rmi", "berth-committed:1", check=False)


def test_diff_lists_the_containers_changes(docker, client, images):
    cid = docker.run("create", "busybox", "sh", "-c",
                     "echo added > /added; rm /bin/ls; echo x >> /etc/passwd; mkdir -p /new/dir; "
                     "touch /new/dir/f").stdout.strip()
    fresh = docker.run("create", "busybox", "true").stdout.strip()
    try:
        assert docker.run("diff", fresh).stdout == ""  # never started: nothing
        docker.run("start", "-a", cid)
        assert docker.run("diff", cid).stdout.splitlines() == [
            "A /added", "C /bin", "D /bin/ls", "C /etc", "C /etc/passwd", "A /new", "A /new/dir", "A /new/dir/f"]
        changes = client.api.diff(cid)
        assert {"Path": "/bin/ls", "Kind": 2} in changes and {"Path": "/added", "Kind": 1} in changes
        # What start made for mounts (/.dockerenv, /etc/hosts, /proc ...) is not a change.
        docker.run("start", "-a", fresh)
        assert docker.run("diff", fresh).stdout == ""
    finally:
        docker.run("rm", cid, fresh)


def raw_tar_names(data):
    """The member names as stored in the headers (tarfile strips a directory's "/")."""
    names, off = [], 0
    while off + 512 <= len(data) and data[off:off + 512] != b"\0" * 512:
        h = data[off:off + 512]
        size = int(h[124:136].rstrip(b"\0 ") or b"0", 8)
        if h[156:157] not in (b"x", b"g", b"L", b"K"):
            names.append(h[:100].rstrip(b"\0").decode())
        off += 512 + (size + 511) // 512 * 512
    return names


def test_cp_of_the_root_names_entries_as_dockerd_does(docker, images, work):
    """dockerd rebases "." onto "/" for path=/ and special-cases the root so that no name
    has a doubled slash: "/", "/bin/", "/bin/sh"."""
    cid = docker.run("create", "busybox").stdout.strip()
    try:
        p = subprocess.run(["docker", "cp", cid + ":/", "-"], capture_output=True, timeout=60,
                           env=docker_env(docker.host, docker.config_dir))
        assert p.returncode == 0, p.stderr
        names = raw_tar_names(p.stdout)
        assert names[0] == "/"
        assert "/bin/" in names and "/etc/passwd" in names
        assert all(n.startswith("/") and "//" not in n for n in names), [n for n in names if "//" in n][:5]
        # The CLI extracts it under the destination's name.
        docker.run("cp", cid + ":/", os.path.join(work, "root"))
        assert os.path.isfile(os.path.join(work, "root", "etc", "passwd"))
        assert os.path.isdir(os.path.join(work, "root", "bin"))
    finally:
        docker.run("rm", cid)


def test_commit_of_a_created_container_then_start_it(docker, images):
    """dockerd commits a container that never ran (an empty layer); it still starts after."""
    cid = docker.run("create", "busybox", "sh", "-c", "echo ran > /ran; cat /ran").stdout.strip()
    try:
        new = docker.run("commit", cid, "berth-committed:created").stdout.strip()
        assert new.startswith("sha256:")
        base = json.loads(docker.run("image", "inspect", "busybox").stdout)[0]
        info = json.loads(docker.run("image", "inspect", "berth-committed:created").stdout)[0]
        assert len(info["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
        assert docker.run("start", "-a", cid).stdout == "ran\n"
        assert docker.run("run", "--rm", "berth-committed:created", "ls", "/ran", check=False).returncode != 0
    finally:
        docker.run("rm", "-f", cid, check=False)
        docker.run("rmi", "berth-committed:created", check=False)


def test_cp_into_a_created_rm_container_then_start(docker, images, work):
    """A --rm container's layer is mounted volatile (no sync at its unmount): a copy into it
    before its start mounts it once, the start mounts it again, and both see the file; it
    leaves no container behind."""
    src = os.path.join(work, "greeting")
    with open(src, "w") as f:
        f.write("hello from cp\n")
    cid = docker.run("create", "--rm", "busybox", "sh", "-c", "cat /greeting; sync").stdout.strip()
    docker.run("cp", src, cid + ":/greeting")
    p = docker.run("start", "-a", cid)
    assert p.stdout == "hello from cp\n"
    assert cid not in docker.run("ps", "-aq", "--no-trunc").stdout.split()
