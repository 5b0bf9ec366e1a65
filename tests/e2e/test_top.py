"""docker top: `ps` on the host, the container's processes only."""
import os

import pytest

from conftest import TESTDATA


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


def test_top_lists_the_containers_processes_only(docker, client, images):
    cid = docker.run("run", "-d", "busybox", "sh", "-c", "sleep 300 & sleep 301").stdout.strip()
    try:
        out = docker.run("top", cid).stdout.splitlines()
        assert out[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        cmds = sorted(" ".join(l.split()[7:]) for l in out[1:])
        assert cmds == ["sleep 300", "sleep 301"]
        init = int(docker.run("inspect", "-f", "{{.State.Pid}}", cid).stdout)
        assert str(init) in [l.split()[1] for l in out[1:]]
        # ps arguments pass through; the last column keeps its spaces.
        top = client.api.top(cid, ps_args="-o pid,args")
        assert top["Titles"] == ["PID", "COMMAND"]
        assert sorted(p[1] for p in top["Processes"]) == ["sleep 300", "sleep 301"]
        # Without a PID column there is nothing to match on.
        p = docker.run("top", cid, "-o", "comm", check=False)
        assert p.returncode != 0 and "Couldn't find PID field in ps output" in p.stderr
        # A paused container still has its processes.
        docker.run("pause", cid)
        assert len(docker.run("top", cid).stdout.splitlines()) == 3
        docker.run("unpause", cid)
    finally:
        docker.run("rm", "-f", cid)


def test_top_of_a_stopped_container_is_409(docker, images):
    cid = docker.run("create", "busybox", "true").stdout.strip()
    try:
        p = docker.run("top", cid, check=False)
        assert p.returncode != 0 and "Container %s is not running" % cid in p.stderr
    finally:
        docker.run("rm", cid)
