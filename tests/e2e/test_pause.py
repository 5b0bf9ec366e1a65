"""docker pause / unpause: the container's cgroup is frozen and thawed; exec, stop, kill and
rm -f of a paused container behave as in dockerd."""
import json
import os
import time

import docker.errors as docker_errors
import pytest

from conftest import TESTDATA


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


def counter_value(docker, cid):
    return int(docker.run("exec", cid, "cat", "/tmp/n").stdout)


def freezer_state(cid):
    for base in ("/sys/fs/cgroup/freezer/berth", "/sys/fs/cgroup/berth"):
        for name, key in (("freezer.state", None), ("cgroup.events", "frozen")):
            p = os.path.join(base, cid, name)
            if os.path.exists(p):
                text = open(p).read()
                if key is None:
                    return text.strip()
                return "FROZEN" if ("%s 1" % key) in text else "THAWED"
    return None


def test_pause_freezes_and_unpause_thaws(docker, images):
    cid = docker.run("run", "-d", "busybox", "sh", "-c",
                     "i=0; while true; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.02; done").stdout.strip()
    try:
        time.sleep(0.3)
        docker.run("pause", cid)
        st = json.loads(docker.run("inspect", cid).stdout)[0]["State"]
        assert st["Status"] == "paused" and st["Paused"] and st["Running"]
        assert docker.run("ps", "--filter", "id=" + cid, "--format", "{{.Status}}").stdout.strip().endswith("(Paused)")
        assert freezer_state(cid) in ("FROZEN", None)
        p = docker.run("exec", cid, "true", check=False)
        assert p.returncode != 0
        assert "Container %s is paused, unpause the container before exec" % cid in p.stderr
        p = docker.run("pause", cid, check=False)
        assert "Container %s is already paused" % cid in p.stderr
        docker.run("unpause", cid)
        a = counter_value(docker, cid)
        time.sleep(0.3)
        assert counter_value(docker, cid) > a  # running again
        p = docker.run("unpause", cid, check=False)
        assert "Container %s is not paused" % cid in p.stderr
        # While paused, the counter stands still.
        docker.run("pause", cid)
        docker.run("unpause", cid)
        events = docker.run("events", "--since", "30s", "--until", "%.3f" % (time.time() + 1), "--filter",
                            "container=" + cid, "--format", "{{.Action}}").stdout.split()
        assert events.count("pause") == 2 and events.count("unpause") == 2
    finally:
        docker.run("rm", "-f", cid)


def test_paused_counter_does_not_move(docker, images):
    cid = docker.run("run", "-d", "busybox", "sh", "-c",
                     "i=0; while true; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.02; done").stdout.strip()
    try:
        time.sleep(0.3)
        docker.run("pause", cid)
        time.sleep(0.3)
        docker.run("unpause", cid)
        before = counter_value(docker, cid)  # read at once: at most a tick later
        docker.run("pause", cid)
        time.sleep(0.5)
        docker.run("unpause", cid)
        after = counter_value(docker, cid)
        assert after - before < 10, (before, after)  # 0.5 s running would be ~25 ticks
    finally:
        docker.run("rm", "-f", cid)


def test_stop_kill_and_rm_of_a_paused_container(docker, images):
    a = docker.run("run", "-d", "busybox", "sleep", "300").stdout.strip()
    b = docker.run("run", "-d", "busybox", "sleep", "300").stdout.strip()
    c = docker.run("run", "-d", "busybox", "sleep", "300").stdout.strip()
    try:
        for x in (a, b, c):
            docker.run("pause", x)
        t = time.time()
        docker.run("stop", "-t", "1", a, timeout=30)
        assert time.time() - t < 10
        st = json.loads(docker.run("inspect", a).stdout)[0]["State"]
        assert st["Status"] == "exited" and st["ExitCode"] == 137 and not st["Paused"]
        docker.run("kill", b, timeout=30)
        docker.run("wait", b, timeout=30)
        docker.run("rm", "-f", c, timeout=30)
        assert docker.run("inspect", c, check=False).returncode != 0
    finally:
        docker.run("rm", "-f", a, b, c, check=False)


def test_pause_of_a_stopped_container_is_409(docker, images):
    cid = docker.run("create", "busybox", "true").stdout.strip()
    try:
        p = docker.run("pause", cid, check=False)
        assert p.returncode != 0 and "Container %s is not running" % cid in p.stderr
    finally:
        docker.run("rm", cid)


def test_start_of_a_paused_container_is_409(docker, client, images):
    cid = docker.run("run", "-d", "busybox", "sleep", "600").stdout.strip()
    try:
        docker.run("pause", cid)
        p = docker.run("start", cid, check=False)
        assert p.returncode != 0 and "cannot start a paused container, try unpause instead" in p.stderr
        with pytest.raises(docker_errors.APIError) as e:
            client.api.start(cid)
        assert e.value.status_code == 409
        assert client.api.inspect_container(cid)["State"]["Paused"]
        docker.run("unpause", cid)
        assert client.api.start(cid) is None  # running: 304, which docker-py takes as done
    finally:
        docker.run("rm", "-f", cid)


def test_stop_of_a_paused_container_delivers_its_stop_signal(docker, images):
    cid = docker.run("run", "-d", "busybox", "sh", "-c",
                     "trap 'exit 43' TERM; while true; do sleep 0.1; done").stdout.strip()
    try:
        time.sleep(0.3)
        docker.run("pause", cid)
        t = time.time()
        docker.run("stop", "-t", "20", cid, timeout=40)
        assert time.time() - t < 10  # thawed after SIGTERM, not left to the SIGKILL
        assert json.loads(docker.run("inspect", cid).stdout)[0]["State"]["ExitCode"] == 43
    finally:
        docker.run("rm", "-f", cid)
