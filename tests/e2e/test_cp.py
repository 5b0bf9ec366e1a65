"""docker cp out of a container: files, trees (hard and symbolic links kept), the
container's mounts, stopped containers, the stat header; copying in is an honest 501."""
import base64
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import io

import pytest

from conftest import SHARED, docker_env


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(SHARED, "fixtures", "busybox-docker-archive.tar"))


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
        with pytest.raises(dockerpy.errors.APIError) as e:
            client.api.put_archive(cid, "/tmp", b"")
        assert e.value.status_code == 501
        # A path that climbs out stays inside the container's root.
        data = b"".join(client.api.get_archive(cid, "/../../../../etc/hostname")[0])
        t = tarfile.open(fileobj=io.BytesIO(data))
        assert t.extractfile("hostname").read().strip() == cid[:12].encode()
    finally:
        docker.run("rm", "-f", cid)
