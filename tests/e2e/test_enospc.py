"""A data root that fills up: berthd on a small loop-mounted ext4 (64 MB, no reserved
blocks), the filesystem filled with a file of the test's own in the middle of a load, a
pull, a commit and a container's log writes. Each fails with the error the kernel gave
("no space left on device"), nothing half-made stays behind, and once space is back
`berthd --check` finds the store clean and the same operation succeeds."""
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import BERTHD, TESTDATA, Berthd, DockerCLI
from registry import Registry, upload_image

FS_MB = 64
BIG_MB = 8


@pytest.fixture
def small_root():
    base = tempfile.mkdtemp(prefix="berth-e2e-")
    img = os.path.join(base, "fs.img")
    data = os.path.join(base, "data")
    os.makedirs(data)
    with open(img, "wb") as f:
        f.truncate(FS_MB << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", img], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "loop", img, data], check=True)
    d = Berthd(base=base)
    try:
        yield d
    finally:
        try:
            d.cleanup_keep = True
            if d.proc and d.proc.poll() is None:
                DockerCLI(d.host).run("rm", "-f", *DockerCLI(d.host).run("ps", "-aq").stdout.split(), check=False)
        except Exception:
            pass
        d.stop()
        from conftest import remove_daemon_network_objects, unmount_under
        if d.net_args:
            remove_daemon_network_objects(d.data_root, d.bridge, d.nft_table())
        unmount_under(data)
        subprocess.run(["umount", "-l", data], capture_output=True)
        subprocess.run(["rm", "-rf", base])


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(d, leave):
    """Fill the data root's filesystem but @leave bytes (a file of the test's own)."""
    path = os.path.join(d.data_root, "filler")
    unfill(d)
    for _ in range(20):
        # berthd or a container may still be writing (slow under the sanitizers): the free
        # space measured can shrink before fallocate runs, so measure again and retry
        size = free_bytes(d.data_root) - leave
        if size <= 0:
            return path
        if subprocess.run(["fallocate", "-l", str(size), path], capture_output=True).returncode == 0:
            return path
        unfill(d)
        time.sleep(0.25)
    raise AssertionError("could not fill %s but %d bytes" % (d.data_root, leave))


def unfill(d):
    try:
        os.unlink(os.path.join(d.data_root, "filler"))
    except FileNotFoundError:
        pass


def big_image(tag):
    """A docker-archive of one layer holding BIG_MB of random bytes (nothing compresses it)."""
    payload = os.urandom(BIG_MB << 20)
    lb = io.BytesIO()
    with tarfile.open(fileobj=lb, mode="w", format=tarfile.USTAR_FORMAT) as t:
        ti = tarfile.TarInfo("big.bin")
        ti.size = len(payload)
        ti.mtime = 0
        t.addfile(ti, io.BytesIO(payload))
    layer = lb.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                         "config": {"Cmd": ["/big.bin"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                         "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "test"}]}).encode()
    chex = hashlib.sha256(config).hexdigest()
    ab = io.BytesIO()
    with tarfile.open(fileobj=ab, mode="w") as t:
        for name, data in (("%s.json" % chex, config), ("layer/layer.tar", layer),
                           ("manifest.json", json.dumps([{"Config": "%s.json" % chex, "RepoTags": [tag],
                                                          "Layers": ["layer/layer.tar"]}]).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return ab.getvalue(), config, layer


def check_clean(d):
    """Stop berthd, run the full store check, start it again."""
    d.stop(signal.SIGTERM)
    p = subprocess.run([BERTHD, "--data-root", d.data_root, "--exec-root", d.exec_root, "--pidfile", d.pidfile,
                        "--config-file", d.config_file, *d.net_args, "--check"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    d.start()


def tmp_empty(d):
    return os.listdir(os.path.join(d.data_root, "tmp")) == []


def test_load_and_pull_on_a_full_data_root(small_root, tmp_path):
    d = small_root.start()
    cli = DockerCLI(d.host)
    reg = Registry().start()
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        archive, config, layer = big_image("big:1")
        path = tmp_path / "big.tar"
        path.write_bytes(archive)

        fill(d, 3 << 20)
        p = cli.run("load", "-i", str(path), check=False)
        assert p.returncode != 0
        assert "no space left on device" in (p.stderr + p.stdout).lower(), p.stderr + p.stdout
        assert cli.run("images", "-q", "big:1").stdout.strip() == ""
        assert tmp_empty(d)
        unfill(d)
        check_clean(d)
        cli.run("load", "-i", str(path))
        cli.run("rmi", "big:1")

        upload_image(reg, "big", "1", config, [gzip.compress(layer, compresslevel=1)])
        fill(d, 3 << 20)
        p = cli.run("pull", "%s/big:1" % reg.host, check=False)
        assert p.returncode != 0
        assert "no space left on device" in (p.stderr + p.stdout).lower(), p.stderr + p.stdout
        assert cli.run("images", "-q", "%s/big:1" % reg.host).stdout.strip() == ""
        assert tmp_empty(d)
        unfill(d)
        check_clean(d)
        cli.run("pull", "%s/big:1" % reg.host)
        check_clean(d)
    finally:
        unfill(d)
        cli.cleanup()
        reg.cleanup()


def test_commit_and_logs_on_a_full_data_root(small_root):
    d = small_root.start()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cid = cli.run("run", "-d", "busybox", "sh", "-c",
                      "head -c %d /dev/urandom > /big.bin && sync && touch /written && sleep 600" % (BIG_MB << 20)).stdout.strip()
        deadline = time.time() + 60
        while time.time() < deadline:
            if cli.run("exec", cid, "test", "-e", "/written", check=False).returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the container did not finish writing /big.bin")
        fill(d, 2 << 20)
        p = cli.run("commit", cid, "snap:1", check=False)
        assert p.returncode != 0
        assert "no space left on device" in (p.stderr + p.stdout).lower(), p.stderr + p.stdout
        assert cli.run("images", "-q", "snap:1").stdout.strip() == ""
        assert json.loads(cli.run("inspect", cid).stdout)[0]["State"]["Status"] == "running"
        assert tmp_empty(d)
        unfill(d)
        cli.run("rm", "-f", cid)
        check_clean(d)

        # Logs: a container that writes lines fast while the filesystem fills.
        cid = cli.run("run", "-d", "busybox", "sh", "-c",
                      "i=0; while true; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); "
                      "done").stdout.strip()
        time.sleep(0.5)
        fill(d, 256 << 10)
        log = os.path.join(d.data_root, "containers", cid, "%s-json.log" % cid)
        deadline = time.time() + 20
        last = -1
        while time.time() < deadline:  # until the log stops growing
            size = os.path.getsize(log)
            if size == last:
                break
            last = size
            time.sleep(0.5)
        assert json.loads(cli.run("inspect", cid).stdout)[0]["State"]["Running"]
        unfill(d)
        time.sleep(1)
        assert os.path.getsize(log) > last, "the log goes on once there is space again"
        # Every line of the log reads back as JSON: no line cut short by the full disk. The
        # container still writes: a last line without its newline is one being written.
        with open(log, "rb") as f:
            lines = f.read().split(b"\n")
        for line in lines[:-1]:
            json.loads(line)
        out = cli.run("logs", "--tail", "5", cid).stdout.splitlines()
        assert len(out) == 5 and all(l.startswith("line-") for l in out)
        cli.run("rm", "-f", cid)
        check_clean(d)
    finally:
        unfill(d)
        cli.cleanup()
