"""docker exec through the stock CLI and docker-py: output and exit codes, stdin, TTYs with
resize, environment, user and working directory, detached execs, inspect, events, and the
errors dockerd gives."""
import json
import os
import struct
import time

import pytest

from conftest import TESTDATA, docker_env, pty_run


@pytest.fixture(scope="module")
def ctr(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    cid = docker.run("run", "-d", "-e", "FROM_RUN=yes", "busybox", "sleep", "600").stdout.strip()
    yield cid
    docker.run("rm", "-f", cid, check=False)


def test_exec_output_and_exit_code(docker, ctr):
    p = docker.run("exec", ctr, "echo", "hello from exec")
    assert p.stdout == "hello from exec\n" and p.stderr == ""
    p = docker.run("exec", ctr, "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert p.returncode == 3
    assert p.stdout == "out\n" and p.stderr == "err\n"


def test_exec_runs_in_the_container(docker, ctr):
    # Same namespaces as the container's init: its pid 1 is the container's command.
    assert docker.run("exec", ctr, "cat", "/proc/1/cmdline").stdout == "sleep\x00600\x00"
    assert docker.run("exec", ctr, "hostname").stdout.strip() == ctr[:12]
    cg_init = docker.run("exec", ctr, "cat", "/proc/1/cgroup").stdout
    cg_self = docker.run("exec", ctr, "cat", "/proc/self/cgroup").stdout
    assert cg_init == cg_self


def test_exec_stdin(docker, ctr):
    p = docker.run("exec", "-i", ctr, "sh", "-c", "tr a-z A-Z; echo end", input="some input\n")
    assert p.stdout == "SOME INPUT\nend\n"
    big = "x" * 300000 + "\n"
    p = docker.run("exec", "-i", ctr, "wc", "-c", input=big)
    assert p.stdout.strip() == str(len(big))


def test_exec_env_user_workdir(docker, ctr):
    p = docker.run("exec", "-e", "FOO=bar", "-e", "FROM_RUN=overridden", "-w", "/tmp", "-u", "nobody", ctr,
                   "sh", "-c", 'echo "$FOO $FROM_RUN $HOME"; pwd; id -u; id -g')
    assert p.stdout.split("\n")[:4] == ["bar overridden /home", "/tmp", "65534", "65534"]
    p = docker.run("exec", ctr, "sh", "-c", 'echo "$FROM_RUN $HOME"; id -u; echo "[$TERM]"')
    assert p.stdout == "yes /root\n0\n[]\n"
    p = docker.run("exec", "-u", "1234:5678", ctr, "id")
    assert p.stdout.startswith("uid=1234 gid=5678")
    p = docker.run("exec", "-u", "nosuchuser", ctr, "true", check=False)
    assert p.returncode != 0
    assert "unable to find user nosuchuser" in p.stdout + p.stderr


def test_exec_missing_command_is_126(docker, ctr):
    # dockerd records 126 for every exec that could not start (a run of one is 127)
    p = docker.run("exec", ctr, "nope", check=False)
    assert p.returncode == 126
    assert 'exec: "nope": executable file not found in $PATH' in p.stdout + p.stderr
    p = docker.run("exec", ctr, "/etc", check=False)
    assert p.returncode == 126
    p = docker.run("exec", ctr, "/etc/passwd", check=False)
    assert p.returncode == 126
    assert "permission denied" in p.stdout + p.stderr


def test_exec_start_failure_exit_code_in_inspect(client, ctr):
    # dockerd records 126 on the instance for an exec that did not start.
    api = client.api
    for cmd, code in (("nope", 126), ("/etc", 126), ("/etc/passwd", 126)):
        eid = api.exec_create(ctr, [cmd])["Id"]
        api.exec_start(eid)
        info = api.exec_inspect(eid)
        assert info["Running"] is False and info["ExitCode"] == code, (cmd, info)


def test_exec_in_a_stopped_container_is_409(docker, ctr):
    cid = docker.run("create", "busybox", "true").stdout.strip()
    try:
        p = docker.run("exec", cid, "true", check=False)
        assert p.returncode != 0
        assert "Container %s is not running" % cid in p.stderr
    finally:
        docker.run("rm", cid)
    p = docker.run("exec", "nosuchcontainer", "true", check=False)
    assert "No such container: nosuchcontainer" in p.stderr


def test_exec_tty_is_a_pts_of_the_container_and_resizes(berthd, docker, ctr):
    env = docker_env(berthd.host, docker.config_dir)
    code, out = pty_run(env, ["docker", "exec", "-it", ctr, "sh"], script=[
        (b"# ", b"tty; stty size; echo \"[$TERM]\"; exit 7\r")])
    assert code == 7, out
    text = out.decode(errors="replace")
    assert "/dev/pts/" in text and "/dev/console" not in text
    assert "33 101" in text  # the CLI's terminal size reached the exec's pty
    assert "[xterm]" in text


def test_exec_detached_then_inspect(client, ctr):
    api = client.api
    e = api.exec_create(ctr, ["sh", "-c", "sleep 1; exit 5"])
    i = api.exec_inspect(e["Id"])
    assert i["Running"] is False and i["ExitCode"] is None and i["ContainerID"] == ctr
    assert i["ProcessConfig"] == {"arguments": ["-c", "sleep 1; exit 5"], "entrypoint": "sh",
                                  "privileged": False, "tty": False}  # user omitted when empty, as dockerd
    api.exec_start(e["Id"], detach=True)
    i = api.exec_inspect(e["Id"])
    assert i["Running"] is True and i["Pid"] > 0
    assert e["Id"] in api.inspect_container(ctr)["ExecIDs"]
    deadline = time.time() + 10
    while api.exec_inspect(e["Id"])["Running"] and time.time() < deadline:
        time.sleep(0.1)
    i = api.exec_inspect(e["Id"])
    assert i["Running"] is False and i["ExitCode"] == 5
    assert e["Id"] not in (api.inspect_container(ctr)["ExecIDs"] or [])
    # An exec instance runs once.
    import docker as dockerpy
    with pytest.raises(dockerpy.errors.APIError) as x:
        api.exec_start(e["Id"], detach=True)
    assert x.value.status_code == 409
    with pytest.raises(dockerpy.errors.NotFound):
        api.exec_inspect("0" * 64)


def test_dockerpy_exec_run(client, ctr):
    c = client.containers.get(ctr)
    r = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"])
    assert r.exit_code == 4 and r.output == b"out\nerr\n"
    r = c.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
    assert r.exit_code == 0 and r.output == (b"out\n", b"err\n")
    r = c.exec_run("env", environment={"A": "1"})
    assert "A=1" in r.output.decode().split()
    with pytest.raises(Exception) as x:
        client.api.exec_create(ctr, [])
    assert "No exec command specified" in str(x.value)


def test_dockerpy_exec_output_whole_and_in_order(client, ctr):
    """A short command's output, many times over: none of it lost to docker-py's buffered
    reader of the 101 (berthd waits until the client has read the headers) and stdout and
    stderr in the order written (the shim watches the pipes before the process runs). Both
    failed a few times in a hundred before."""
    c = client.containers.get(ctr)
    for _ in range(40):
        r = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"])
        assert (r.exit_code, r.output) == (4, b"out\nerr\n")
        r = c.exec_run(["sh", "-c", "echo err >&2; echo out"])
        assert (r.exit_code, r.output) == (0, b"err\nout\n")


def test_exec_events(docker, ctr):
    since = "%.3f" % (time.time() - 1)
    docker.run("exec", ctr, "sh", "-c", "exit 2", check=False)
    out = docker.run("events", "--since", since, "--until", "%.3f" % (time.time() + 1), "--filter",
                     "container=" + ctr, "--format", "{{json .}}").stdout
    evs = [json.loads(l) for l in out.splitlines()]
    actions = [e["Action"] for e in evs]
    assert "exec_create: sh -c exit 2" in actions
    assert "exec_start: sh -c exit 2" in actions
    die = [e for e in evs if e["Action"] == "exec_die: sh -c exit 2"]
    assert die and die[0]["Actor"]["Attributes"]["exitCode"] == "2"
    assert die[0]["Actor"]["Attributes"]["execID"]


def test_exec_ends_with_its_container(docker, ctr):
    cid = docker.run("run", "-d", "busybox", "sleep", "600").stdout.strip()
    try:
        import subprocess
        p = subprocess.Popen(["docker", "exec", cid, "sleep", "300"], env=docker_env(docker.host, docker.config_dir),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        docker.run("kill", cid)
        assert p.wait(timeout=15) == 137
    finally:
        docker.run("rm", "-f", cid)


def test_exec_with_background_child_returns(docker, ctr):
    """The exec ends when its process does, even if a child it left keeps the output open."""
    t = time.time()
    p = docker.run("exec", ctr, "sh", "-c", "sleep 30 & echo started")
    assert p.stdout == "started\n"
    assert time.time() - t < 10


def test_exec_start_without_upgrade_streams_the_output(berthd, client, ctr):
    """dockerode's exec.start({hijack: false}): no Upgrade header; dockerd still answers with
    the stream (here as an ordinary 200 body), and stdin is at EOF."""
    import http.client
    import socket

    class UnixConn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(berthd.sock)

    e = client.api.exec_create(ctr, ["sh", "-c", "echo out; echo err >&2; cat; exit 6"], stdin=True)
    conn = UnixConn("localhost", timeout=20)
    conn.request("POST", "/v1.41/exec/%s/start" % e["Id"], body=json.dumps({"Detach": False, "Tty": False}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200
    assert r.getheader("Content-Type") == "application/vnd.docker.multiplexed-stream"
    data = r.read()
    conn.close()
    frames = []
    while data:
        stream, size = data[0], struct.unpack(">I", data[4:8])[0]
        frames.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    assert (1, b"out\n") in frames and (2, b"err\n") in frames
    deadline = time.time() + 5
    while client.api.exec_inspect(e["Id"])["Running"] and time.time() < deadline:
        time.sleep(0.05)
    assert client.api.exec_inspect(e["Id"])["ExitCode"] == 6


def cap_eff(text):
    return int([l for l in text.splitlines() if l.startswith("CapEff:")][0].split()[1], 16)


def test_exec_privileged_gets_every_capability(docker, client, ctr):
    CAP_SYS_ADMIN, CAP_NET_ADMIN = 21, 12
    plain = cap_eff(docker.run("exec", ctr, "cat", "/proc/self/status").stdout)
    priv = cap_eff(docker.run("exec", "--privileged", ctr, "cat", "/proc/self/status").stdout)
    assert not plain & (1 << CAP_SYS_ADMIN) and not plain & (1 << CAP_NET_ADMIN)
    assert priv & (1 << CAP_SYS_ADMIN) and priv & (1 << CAP_NET_ADMIN)
    assert priv & plain == plain
    e = client.api.exec_create(ctr, ["true"], privileged=True)
    assert client.api.exec_inspect(e["Id"])["ProcessConfig"]["privileged"] is True


def test_exec_stdin_is_binary_safe_without_a_tty(docker, ctr):
    """Detach keys (ctrl-p ctrl-q) only apply with a TTY: other stdin passes byte for byte."""
    import subprocess
    data = bytes(range(256)) * 64 + b"\x10\x11tail"
    p = subprocess.run(["docker", "exec", "-i", ctr, "md5sum"], input=data, capture_output=True, timeout=30,
                       env=docker_env(docker.host, docker.config_dir))
    import hashlib
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[0].decode() == hashlib.md5(data).hexdigest()


def test_exec_survives_a_container_that_replaced_dev_null(docker, ctr):
    """The container owns its /dev: a FIFO at /dev/null must not hang the shim."""
    cid = docker.run("run", "-d", "busybox", "sleep", "300").stdout.strip()
    try:
        docker.run("exec", cid, "sh", "-c", "rm /dev/null && mkfifo /dev/null")
        t = time.time()
        docker.run("exec", "-d", cid, "true", timeout=20)
        assert docker.run("exec", cid, "echo", "still-fine", timeout=20).stdout == "still-fine\n"
        assert time.time() - t < 10
    finally:
        docker.run("rm", "-f", cid, timeout=30)


def shim_cpu_seconds(berthd, cid):
    with open(os.path.join(berthd.exec_root, "containers", cid, "shim.pid")) as f:
        pid = int(f.read().strip())
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_client_that_leaves_does_not_spin_the_shim(berthd, docker, ctr):
    import signal
    import subprocess
    p = subprocess.Popen(["docker", "exec", ctr, "sleep", "30"], env=docker_env(docker.host, docker.config_dir),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    p.send_signal(signal.SIGKILL)
    p.wait()
    time.sleep(0.3)
    before = shim_cpu_seconds(berthd, ctr)
    time.sleep(1.0)
    assert shim_cpu_seconds(berthd, ctr) - before < 0.2
    docker.run("exec", ctr, "pkill", "-f", "sleep 30", check=False)


def test_exec_tty_detach_keys(berthd, docker, ctr):
    """ctrl-p ctrl-q on a TTY exec detaches the client; the process goes on."""
    env = docker_env(berthd.host, docker.config_dir)
    code, out = pty_run(env, ["docker", "exec", "-it", ctr, "sh", "-c", "echo ready; sleep 30"],
                        script=[(b"ready", b"\x10\x11")], timeout=20)
    assert b"ready" in out
    ps = docker.run("exec", ctr, "ps", "-o", "args").stdout
    assert "sleep 30" in ps  # still running after the client detached
    docker.run("exec", ctr, "pkill", "-f", "sleep 30", check=False)
