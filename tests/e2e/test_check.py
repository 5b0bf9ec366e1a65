"""`berthd --check [--repair]`: the data root verified offline. After ordinary work the
store is clean; a corrupted blob, an orphaned layer directory, a record of a container
whose image is gone are reported (exit 1); --repair removes what nothing references and
never a volume; a running berthd is refused."""
import glob
import json
import os
import signal
import subprocess
import time

from conftest import BERTHD, TESTDATA, DockerCLI
from registry import Registry


def check(d, *args):
    p = subprocess.run([BERTHD, "--data-root", d.data_root, "--exec-root", d.exec_root, "--pidfile", d.pidfile,
                        "--config-file", d.config_file, *d.net_args, "--check", *args],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def stopped(d):
    """berthd stopped the way an operator stops it; its containers keep running."""
    d.stop(signal.SIGTERM)


def test_check_after_work_is_clean_and_finds_damage(fresh_daemon):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    reg = Registry().start()
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cli.run("tag", "busybox", "%s/ck/busybox:1" % reg.host)
        cli.run("push", "%s/ck/busybox:1" % reg.host)
        cli.run("rmi", "%s/ck/busybox:1" % reg.host)
        cli.run("pull", "%s/ck/busybox:1" % reg.host)
        cli.run("volume", "create", "keepme")
        cli.run("network", "create", "cknet")
        cli.run("run", "-d", "--name", "up", "--network", "cknet", "-v", "keepme:/data", "busybox", "sleep", "600")
        cli.run("run", "--name", "done", "-v", "/anon", "busybox", "sh", "-c", "echo hi > /anon/f")
        cli.run("commit", "done", "ckimg:1")
        up_pid = json.loads(cli.run("inspect", "up").stdout)[0]["State"]["Pid"]

        # A running berthd is refused: its pid file is locked.
        rc, out, err = check(d)
        assert rc == 2, (rc, out, err)
        assert "is running" in err

        stopped(d)
        rc, out, err = check(d)
        assert rc == 0, out + err
        assert "result: clean" in out
        rc, out, err = check(d, "--check=quick")
        assert rc == 0, out + err

        # Damage: a blob whose bytes changed, a layer directory of nothing, a spool file.
        blobs = sorted(glob.glob(os.path.join(d.data_root, "blobs", "sha256", "*")))
        assert blobs, "a pull keeps its blobs"
        victim = blobs[0]
        with open(victim, "r+b") as f:
            f.seek(0)
            b = f.read(1)
            f.seek(0)
            f.write(bytes([b[0] ^ 0xFF]))
        orphan = os.path.join(d.data_root, "overlay2", "f" * 64)
        os.makedirs(os.path.join(orphan, "diff"))
        with open(os.path.join(d.data_root, "tmp", "blob-abandoned"), "w") as f:
            f.write("x")

        rc, out, err = check(d)
        assert rc == 1, out + err
        assert "problem  blobs/sha256/%s: content hashes to" % os.path.basename(victim) in out
        assert "orphan   overlay2/%s: layer storage no layer record owns" % ("f" * 64) in out
        assert "orphan   tmp/blob-abandoned" in out
        assert "result: inconsistent" in out
        # The quick check reads no content: the blob passes, the orphans do not.
        rc, out, err = check(d, "--check=quick")
        assert rc == 1 and "content hashes" not in out and "overlay2/" + "f" * 64 in out
        # Nothing was touched by checking.
        assert os.path.isdir(orphan) and os.path.exists(victim)

        rc, out, err = check(d, "--repair")
        assert rc == 0, out + err
        assert "overlay2/%s: layer storage no layer record owns (repaired)" % ("f" * 64) in out
        assert "(repaired)" in out.split("blobs/sha256/%s" % os.path.basename(victim))[1].splitlines()[0]
        assert not os.path.exists(orphan) and not os.path.exists(victim)
        assert os.listdir(os.path.join(d.data_root, "tmp")) == []
        # Volumes are never removed; every image and container is still there.
        assert os.path.isdir(os.path.join(d.data_root, "volumes", "keepme", "_data"))

        d.start()
        ps = cli.run("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.split("\n")
        assert "up running" in ps and "done exited" in ps
        assert json.loads(cli.run("inspect", "up").stdout)[0]["State"]["Pid"] == up_pid
        assert cli.run("run", "--rm", "ckimg:1", "ls", "/").returncode == 0
        # The corrupted blob is fetched again by the next pull, and a push still works.
        cli.run("push", "%s/ck/busybox:1" % reg.host)
        cli.run("rm", "-f", "up", "done")
        cli.run("network", "rm", "cknet")
        stopped(d)
        rc, out, err = check(d)
        assert rc == 0, out + err
    finally:
        if d.proc and d.proc.poll() is not None:
            d.start()
        cli.run("rm", "-f", "up", "done", check=False)
        cli.cleanup()
        reg.cleanup()


def test_check_reports_a_record_whose_image_is_missing(fresh_daemon):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cid = cli.run("create", "busybox", "true").stdout.strip()
        image_id = json.loads(cli.run("inspect", cid).stdout)[0]["Image"]
        stopped(d)
        # The image record goes behind berthd's back.
        subprocess.run(["rm", "-rf", os.path.join(d.data_root, "image", "sha256", image_id.split(":")[1])], check=True)
        rc, out, err = check(d)
        assert rc == 1, out + err
        assert "problem  containers/%s: its image %s is not stored" % (cid, image_id) in out
        assert "problem  image/references.json: busybox:latest names image %s, which is not stored" % image_id in out
        # --repair never removes a container record: only what nothing references goes.
        rc, out, err = check(d, "--repair")
        assert rc == 1
        assert os.path.exists(os.path.join(d.data_root, "containers", cid, "config.json"))
        d.start()
    finally:
        if d.proc and d.proc.poll() is not None:
            d.start()
        cli.run("rm", "-f", cid, check=False)
        cli.cleanup()


def test_check_repair_removes_leftovers_of_a_cut_short_create(fresh_daemon):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        stopped(d)
        half = os.path.join(d.data_root, "containers", "a" * 64)
        os.makedirs(os.path.join(half, "rw", "diff"))
        bundle = os.path.join(d.exec_root, "containers", "b" * 64)
        os.makedirs(bundle)
        rc, out, err = check(d, "--check=quick")
        assert rc == 1
        assert "orphan   containers/%s: container directory without a complete record" % ("a" * 64) in out
        assert "bundle of a container with no record" in out
        rc, out, err = check(d, "--check=quick", "--repair")
        assert rc == 0, out + err
        assert not os.path.exists(half) and not os.path.exists(bundle)
    finally:
        cli.cleanup()


def test_removal_cut_short_is_reported_and_finished_at_start_up(fresh_daemon):
    """A removal renames the container's directories to ".rm-<id>" and deletes them in the
    background: what a crash left half deleted is an orphan for --check, and the next
    start-up deletes it."""
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cid = cli.run("run", "-d", "busybox", "true").stdout.strip()
        cli.run("wait", cid)
        cli.run("rm", cid)
        assert not os.path.exists(os.path.join(d.data_root, "containers", cid))
        stopped(d)  # a clean stop waits for the background deletion: nothing is left
        assert not [n for n in os.listdir(os.path.join(d.data_root, "containers")) if n.startswith(".rm-")]
        assert not [n for n in os.listdir(os.path.join(d.exec_root, "containers")) if n.startswith(".rm-")]
        left = [os.path.join(d.data_root, "containers", ".rm-" + "c" * 64),
                os.path.join(d.exec_root, "containers", ".rm-" + "d" * 64)]
        for p in left:
            os.makedirs(os.path.join(p, "rw", "diff", "etc"))
            with open(os.path.join(p, "rw", "diff", "etc", "f"), "w") as f:
                f.write("x")
        rc, out, err = check(d, "--check=quick")
        assert rc == 1, out + err
        assert "orphan   containers/.rm-%s: directory of a removed container, its deletion cut short" % ("c" * 64) in out
        assert "orphan   %s: directory of a removed container, its deletion cut short" % left[1] in out
        d.start()
        deadline = time.time() + 10
        while any(os.path.exists(p) for p in left) and time.time() < deadline:
            time.sleep(0.02)
        assert not any(os.path.exists(p) for p in left)
    finally:
        cli.cleanup()


def test_check_flags_are_validated(fresh_daemon):
    d = fresh_daemon(start=False)
    p = subprocess.run([BERTHD, "--data-root", d.data_root, "--repair"], capture_output=True, text=True)
    assert p.returncode == 125 and "--repair is only valid with --check" in p.stderr
    p = subprocess.run([BERTHD, "--data-root", d.data_root, "--check=deep"], capture_output=True, text=True)
    assert p.returncode == 125 and 'invalid value "deep" for flag --check' in p.stderr
