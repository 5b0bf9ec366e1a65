"""Containers outlive berthd: kill -9 the daemon, start it again, everything is re-adopted."""
import json
import os
import signal
import time

from conftest import TESTDATA, DockerCLI


def state(cli, name):
    return json.loads(cli.run("inspect", name).stdout)[0]["State"]


def test_containers_survive_daemon_kill9(fresh_daemon):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cli.run("run", "-d", "--name", "survivor", "busybox", "sh", "-c",
                "trap 'exit 0' TERM; while true; do echo alive; sleep 0.2; done")
        cli.run("run", "-d", "--name", "shortlived", "busybox", "sh", "-c", "sleep 1; exit 5")
        cli.run("run", "-d", "--rm", "--name", "gone", "busybox", "sh", "-c", "sleep 1")
        pid = state(cli, "survivor")["Pid"]
        assert pid > 0

        d.stop(signal.SIGKILL)
        time.sleep(2)  # shortlived and gone exit while the daemon is down
        os.kill(pid, 0)  # still running
        d.start()

        names = cli.run("ps", "--format", "{{.Names}}").stdout.split()
        assert "survivor" in names
        st = state(cli, "shortlived")
        assert st["Status"] == "exited" and st["ExitCode"] == 5 and st["FinishedAt"] != "0001-01-01T00:00:00Z"
        assert "gone" not in cli.run("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert "alive" in cli.run("logs", "--tail", "2", "survivor").stdout
        cli.run("stop", "survivor")
        st = state(cli, "survivor")
        assert st["Status"] == "exited" and st["ExitCode"] == 0
        cli.run("rm", "survivor", "shortlived")
    finally:
        cli.cleanup()


def test_shim_kill9_marks_container_exited(fresh_daemon):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cid = cli.run("run", "-d", "busybox", "sleep", "100").stdout.strip()
        with open(os.path.join(d.exec_root, "containers", cid, "shim.pid")) as f:
            shim = int(f.read())
        os.kill(shim, signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline and state(cli, cid)["Running"]:
            time.sleep(0.1)
        st = state(cli, cid)
        assert st["Status"] == "exited" and st["ExitCode"] == 137
        merged = os.path.join(d.data_root, "containers", cid, "rootfs")
        with open("/proc/self/mountinfo") as f:
            assert merged not in f.read()
        cli.run("rm", cid)
    finally:
        cli.cleanup()
