"""docker update (POST /containers/{id}/update) through the stock docker CLI and docker-py:
resources written to a running (or paused) container's cgroup at once (cgroup v1 here),
a stopped container's kept for its next start, everything kept in the record across a
berthd restart, the restart policy followed from then on, dockerd's errors and warnings,
and the `update` event."""
import json
import os
import time

import pytest

from conftest import TESTDATA, DockerCLI

CGROUP = "/sys/fs/cgroup"
MB = 1 << 20


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield
    for c in docker.run("ps", "-aq").stdout.split():
        docker.run("rm", "-f", c, check=False)


def inspect(docker, name):
    return json.loads(docker.run("inspect", name).stdout)[0]


def cg(controller, cid, name):
    with open(os.path.join(CGROUP, controller, "berth", cid, name)) as f:
        return f.read().strip()


def has_memsw(cid):
    return os.path.exists(os.path.join(CGROUP, "memory", "berth", cid, "memory.memsw.limit_in_bytes"))


def update_fails(docker, *args):
    p = docker.run("update", *args, check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr


@pytest.fixture
def sleeper(docker, images):
    made = []

    def make(*opts):
        cid = docker.run("run", "-d", *opts, "busybox", "sleep", "300").stdout.strip()
        made.append(cid)
        return cid

    yield make
    for cid in made:
        docker.run("rm", "-f", cid, check=False)


def test_update_running_container_reaches_cgroup_at_once(docker, sleeper):
    cid = sleeper("--memory", "48m")
    out = docker.run("update", "--memory", "64m", "--memory-reservation", "32m", "--cpu-shares", "512",
                     "--cpus", "0.5", "--pids-limit", "30", "--cpuset-cpus", "0", "--cpuset-mems", "0", cid)
    assert out.stdout.strip() == cid
    assert int(cg("memory", cid, "memory.limit_in_bytes")) == 64 * MB
    assert int(cg("memory", cid, "memory.soft_limit_in_bytes")) == 32 * MB
    if has_memsw(cid):  # the swap limit -m 48m gave (2 x 48m) is left as it was
        assert int(cg("memory", cid, "memory.memsw.limit_in_bytes")) == 96 * MB
    assert cg("cpu", cid, "cpu.shares") == "512"
    assert cg("cpu", cid, "cpu.cfs_quota_us") == "50000"
    assert cg("cpu", cid, "cpu.cfs_period_us") == "100000"
    assert cg("pids", cid, "pids.max") == "30"
    assert cg("cpuset", cid, "cpuset.cpus") == "0"
    assert cg("cpuset", cid, "cpuset.mems") == "0"
    hc = inspect(docker, cid)["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"], hc["MemoryReservation"]) == (64 * MB, 96 * MB, 32 * MB)
    assert (hc["CpuShares"], hc["NanoCpus"], hc["PidsLimit"]) == (512, 500000000, 30)
    assert (hc["CpusetCpus"], hc["CpusetMems"]) == ("0", "0")

    # raising memory past the swap limit needs the swap too; both go in
    docker.run("update", "--memory", "200m", "--memory-swap", "400m", cid)
    assert int(cg("memory", cid, "memory.limit_in_bytes")) == 200 * MB
    if has_memsw(cid):
        assert int(cg("memory", cid, "memory.memsw.limit_in_bytes")) == 400 * MB
    # unlimited pids again
    docker.run("update", "--pids-limit", "-1", cid)
    assert cg("pids", cid, "pids.max") == "max"
    assert inspect(docker, cid)["HostConfig"]["PidsLimit"] == 0  # dockerd stores "unlimited" as 0
    # the container still runs and its processes still live under the limits
    assert inspect(docker, cid)["State"]["Running"]


def test_update_cpu_period_and_quota(docker, sleeper):
    cid = sleeper()
    docker.run("update", "--cpu-period", "50000", "--cpu-quota", "25000", cid)
    assert cg("cpu", cid, "cpu.cfs_period_us") == "50000"
    assert cg("cpu", cid, "cpu.cfs_quota_us") == "25000"
    hc = inspect(docker, cid)["HostConfig"]
    assert (hc["CpuPeriod"], hc["CpuQuota"]) == (50000, 25000)
    # --cpus cannot come in once period/quota are set, nor the reverse
    err = update_fails(docker, "--cpus", "1", cid)
    assert ("Cannot update container %s: Conflicting options: CPU Period cannot be updated as NanoCPUs "
            "has already been set" % cid) in err
    assert cg("cpu", cid, "cpu.cfs_quota_us") == "25000"


def test_update_paused_container(docker, sleeper):
    cid = sleeper()
    docker.run("pause", cid)
    try:
        docker.run("update", "--pids-limit", "40", cid)
        assert cg("pids", cid, "pids.max") == "40"
        assert inspect(docker, cid)["State"]["Status"] == "paused"
    finally:
        docker.run("unpause", cid)


def test_update_stopped_container_applies_at_next_start_and_survives_restart(fresh_daemon, images):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cid = cli.run("create", "--memory", "48m", "busybox", "sleep", "300").stdout.strip()
        cli.run("update", "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "25",
                "--cpu-shares", "256", "--restart", "on-failure:3", cid)
        assert not os.path.exists(os.path.join(CGROUP, "memory", "berth", cid))
        d.stop()
        d.start()
        hc = json.loads(cli.run("inspect", cid).stdout)[0]["HostConfig"]
        assert (hc["Memory"], hc["MemorySwap"], hc["PidsLimit"], hc["CpuShares"]) == (64 * MB, 128 * MB, 25, 256)
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        cli.run("start", cid)
        try:
            assert int(cg("memory", cid, "memory.limit_in_bytes")) == 64 * MB
            if has_memsw(cid):
                assert int(cg("memory", cid, "memory.memsw.limit_in_bytes")) == 128 * MB
            assert cg("pids", cid, "pids.max") == "25"
            assert cg("cpu", cid, "cpu.shares") == "256"
        finally:
            cli.run("rm", "-f", cid)
    finally:
        cli.cleanup()


def test_update_restart_policy_is_followed(docker, images):
    cid = docker.run("run", "-d", "busybox", "sh", "-c", "sleep 1; exit 3").stdout.strip()
    try:
        docker.run("update", "--restart", "on-failure:2", cid)
        deadline = time.time() + 30
        while time.time() < deadline:
            st = inspect(docker, cid)
            if st["RestartCount"] == 2 and not st["State"]["Running"] and st["State"]["Status"] == "exited":
                break
            time.sleep(0.2)
        st = inspect(docker, cid)
        assert st["RestartCount"] == 2 and st["State"]["ExitCode"] == 3
        assert st["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    finally:
        docker.run("rm", "-f", cid)


@pytest.mark.parametrize("opts,flags,message", [
    ((), ("--memory", "64m"), "Memory limit should be smaller than already set memoryswap limit, "
                              "update the memoryswap at the same time"),
    (("--memory", "48m"), ("--memory", "300m"), "Memory limit should be smaller than already set memoryswap "
                                                "limit, update the memoryswap at the same time"),
    (("--cpus", "1"), ("--cpu-quota", "30000"), "Conflicting options: CPU Quota cannot be updated as NanoCPUs "
                                                 "has already been set"),
    (("--rm",), ("--restart", "always"), "Restart policy cannot be updated because AutoRemove is enabled "
                                          "for the container"),
])
def test_update_conflicts_with_what_is_set(docker, sleeper, opts, flags, message):
    cid = sleeper(*opts)
    before = inspect(docker, cid)["HostConfig"]
    err = update_fails(docker, *flags, cid)
    assert "Cannot update container %s: %s" % (cid, message) in err
    assert inspect(docker, cid)["HostConfig"] == before


@pytest.mark.parametrize("flags,message", [
    (("--memory", "1m"), "Minimum memory limit allowed is 6MB"),
    (("--memory", "64m", "--memory-swap", "32m"), "Minimum memoryswap limit should be larger than memory limit"),
    (("--memory-reservation", "1m"), "Minimum memory reservation allowed is 6MB"),
    (("--memory", "32m", "--memory-swap", "64m", "--memory-reservation", "48m"),
     "Minimum memory limit can not be less than memory reservation limit"),
    (("--cpus", "1", "--cpu-period", "50000"), "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    (("--cpu-period", "100"), "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s"),
    (("--cpu-quota", "100"), "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    (("--cpuset-cpus", "0-999"), "Requested CPUs are not available"),
    (("--cpuset-cpus", "a"), "Invalid value a for cpuset cpus"),
    (("--restart", "sometimes"), "invalid restart policy: unknown policy 'sometimes'"),
    (("--restart", "always:3"), "maximum retry count can only be used with 'on-failure'"),
])
def test_update_refuses_bad_values_and_changes_nothing(docker, sleeper, flags, message):
    cid = sleeper("--memory", "48m")
    before = inspect(docker, cid)["HostConfig"]
    err = update_fails(docker, *flags, cid)
    assert message in err
    assert inspect(docker, cid)["HostConfig"] == before
    assert int(cg("memory", cid, "memory.limit_in_bytes")) == 48 * MB


def test_update_states(docker, client, images):
    import docker as dockerpy
    with pytest.raises(dockerpy.errors.NotFound) as e:
        client.api.update_container("no-such-ctr", mem_limit="64m", memswap_limit="128m")
    assert "No such container: no-such-ctr" in str(e.value)
    cid = docker.run("run", "-d", "busybox", "true").stdout.strip()
    try:
        docker.run("wait", cid)
        r = client.api.update_container(cid, mem_limit="64m", memswap_limit="128m", cpu_shares=100)
        assert r == {"Warnings": None}
        hc = inspect(docker, cid)["HostConfig"]
        assert (hc["Memory"], hc["CpuShares"]) == (64 * MB, 100)
    finally:
        docker.run("rm", "-f", cid)


def test_update_blkio_weight_warns_without_kernel_support(docker, client, sleeper):
    import docker as dockerpy
    supported = any(os.path.exists(os.path.join(CGROUP, "blkio", f)) for f in ("blkio.weight", "blkio.bfq.weight"))
    cid = sleeper()
    with pytest.raises(dockerpy.errors.APIError) as e:  # not a uint16: Go's decode error first
        client.api.update_container(cid, blkio_weight=70000)
    assert e.value.status_code == 400 and "cannot unmarshal number 70000" in e.value.explanation
    if supported:
        client.api.update_container(cid, blkio_weight=300)
        assert inspect(docker, cid)["HostConfig"]["BlkioWeight"] == 300
        err = update_fails(docker, "--blkio-weight", "5", cid)
        assert "Range of blkio weight is from 10 to 1000" in err
    else:
        r = client.api.update_container(cid, blkio_weight=300)
        assert r["Warnings"] == ["Your kernel does not support Block I/O weight or the cgroup is not mounted. "
                                 "Weight discarded."]
        assert inspect(docker, cid)["HostConfig"]["BlkioWeight"] == 0
        out = docker.run("update", "--blkio-weight", "5", cid).stdout
        assert "Weight discarded." in out


def test_update_event(docker, sleeper):
    since = str(time.time() - 1)
    cid = sleeper()
    name = inspect(docker, cid)["Name"].lstrip("/")
    docker.run("update", "--cpu-shares", "300", cid)
    out = docker.run("events", "--since", since, "--until", str(time.time() + 1), "--filter", "event=update", "--filter", "container=" + cid,
                     "--format", "{{json .}}").stdout
    evs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(evs) == 1
    ev = evs[0]
    assert (ev["Type"], ev["Action"], ev["Actor"]["ID"]) == ("container", "update", cid)
    assert ev["Actor"]["Attributes"]["name"] == name and ev["Actor"]["Attributes"]["image"] == "busybox"


def test_update_follows_the_api_version(docker, berthd, sleeper):
    """PidsLimit came to update in 1.40: an older client's is not taken."""
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(berthd.sock)

    cid = sleeper()

    def update(version, body):
        c = Conn("localhost")
        c.request("POST", "/v%s/containers/%s/update" % (version, cid), body=json.dumps(body),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data)

    assert update("1.39", {"PidsLimit": 30, "CpuShares": 300}) == (200, {"Warnings": None})
    assert cg("pids", cid, "pids.max") == "max" and cg("cpu", cid, "cpu.shares") == "300"
    assert update("1.41", {"PidsLimit": 30}) == (200, {"Warnings": None})
    assert cg("pids", cid, "pids.max") == "30"
