"""Containers through the stock docker CLI: run, logs, stop/start/restart, rm, ps, inspect."""
import json
import os
import pty
import select
import subprocess
import time

import pytest

from conftest import TESTDATA, docker_env, pty_run


@pytest.fixture(scope="module")
def images(docker):
    for name in ("busybox", "layered"):
        docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "%s-docker-archive.tar" % name))
    yield
    for c in docker.run("ps", "-aq").stdout.split():
        docker.run("rm", "-f", c, check=False)


def test_run_echo_prints_and_removes(docker, images):
    p = docker.run("run", "--rm", "busybox", "echo", "hello")
    assert p.stdout == "hello\n"
    # --rm: no container with that command is left (other tests may leave their own)
    commands = docker.run("ps", "-a", "--no-trunc", "--format", "{{.Command}}").stdout
    assert '"echo hello"' not in commands


def test_run_exit_code(docker, images):
    p = docker.run("run", "--name", "exit3", "busybox", "sh", "-c", "exit 3", check=False)
    assert p.returncode == 3
    st = json.loads(docker.run("inspect", "exit3").stdout)[0]["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 3 and not st["Running"]
    assert st["FinishedAt"] > st["StartedAt"]
    docker.run("rm", "exit3")


def test_run_stdout_and_stderr_are_separate(docker, images):
    p = docker.run("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert p.stdout == "out\n"
    assert p.stderr == "err\n"


def test_run_interactive_stdin(docker, images):
    p = docker.run("run", "--rm", "-i", "busybox", "cat", input="line one\nline two\n")
    assert p.stdout == "line one\nline two\n"


def test_run_layered_image_user_path_workdir_entrypoint(docker, images):
    p = docker.run("run", "--rm", "layered", "greet")
    assert p.stdout.strip() == "hello world from nobody"
    p = docker.run("run", "--rm", "layered", "sh", "-c", "id -u; pwd; echo $APP_HOME")
    assert p.stdout.split() == ["65534", "/app", "/app"]


def test_missing_command_is_127_with_dockers_message(docker, images):
    p = docker.run("run", "--rm", "busybox", "no-such-command", check=False)
    assert p.returncode == 127
    assert 'exec: "no-such-command": executable file not found in $PATH' in p.stderr


def test_command_that_cannot_run_is_126_and_recorded(docker, images):
    # dockerd: a directory or a file without an x bit is "permission denied", 126; the
    # container stays "created" with the runtime's errno translated into its exit code.
    for cmd in ("/etc", "/etc/passwd"):
        p = docker.run("run", "--name", "cannot-run", "busybox", cmd, check=False)
        assert p.returncode == 126, p.stderr
        assert 'exec: "%s": permission denied' % cmd in p.stderr
        state = json.loads(docker.run("inspect", "--format", "{{json .State}}", "cannot-run").stdout)
        assert state["Status"] == "created" and state["ExitCode"] == 126
        assert "permission denied" in state["Error"]
        docker.run("rm", "cannot-run")
    docker.run("create", "--name", "not-there", "busybox", "no-such-command")
    p = docker.run("start", "not-there", check=False)
    assert p.returncode != 0 and "executable file not found" in p.stderr
    assert docker.run("inspect", "--format", "{{.State.ExitCode}}", "not-there").stdout.strip() == "127"
    docker.run("rm", "not-there")


def test_missing_image_is_404(docker, images):
    # --pull never: the CLI must not go and pull it from Docker Hub (tests stay on loopback)
    p = docker.run("create", "--pull", "never", "no-such-image-here:1", check=False)
    assert p.returncode != 0
    assert "No such image: no-such-image-here:1" in p.stderr


def test_name_conflict_is_409(docker, images):
    docker.run("create", "--name", "twin", "busybox", "true")
    p = docker.run("create", "--name", "twin", "busybox", "true", check=False)
    assert p.returncode != 0
    assert 'Conflict. The container name "/twin" is already in use by container' in p.stderr
    docker.run("rm", "twin")


def test_detached_logs_stop_start_restart_rm(docker, images):
    cid = docker.run("run", "-d", "--name", "looper", "busybox", "sh", "-c",
                     "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done").stdout.strip()
    assert len(cid) == 64
    time.sleep(1)
    logs = docker.run("logs", "looper").stdout.splitlines()
    assert logs[0] == "tick 0" and len(logs) >= 2
    assert docker.run("logs", "--tail", "1", "looper").stdout.count("\n") == 1
    ps = docker.run("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert "looper Up" in ps
    t0 = time.time()
    docker.run("stop", "-t", "1", "looper")
    assert time.time() - t0 < 5
    st = json.loads(docker.run("inspect", "looper").stdout)[0]["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 137  # sh ignores SIGTERM as pid 1
    assert "looper" not in docker.run("ps", "--format", "{{.Names}}").stdout
    assert "looper" in docker.run("ps", "-a", "--format", "{{.Names}}").stdout
    docker.run("start", "looper")
    assert json.loads(docker.run("inspect", "looper").stdout)[0]["State"]["Running"]
    docker.run("restart", "-t", "1", "looper")
    assert json.loads(docker.run("inspect", "looper").stdout)[0]["State"]["Running"]
    p = docker.run("rm", "looper", check=False)
    assert p.returncode != 0 and "container is running" in p.stderr
    docker.run("rm", "-f", "looper")
    assert "looper" not in docker.run("ps", "-a", "--format", "{{.Names}}").stdout


def test_logs_follow_ends_when_container_exits(docker, images):
    docker.run("run", "-d", "--name", "brief", "busybox", "sh", "-c", "echo a; sleep 1; echo b")
    p = docker.run("logs", "-f", "brief", timeout=20)
    assert p.stdout == "a\nb\n"
    docker.run("rm", "brief")


def test_logs_keep_nul_bytes(docker, images):
    # json-file writes a NUL as \u0000; the reader must take it back, not drop the line
    docker.run("run", "--name", "nul", "busybox", "printf", "a\\000b\\nafter\\n")
    p = subprocess.run(["docker", "logs", "nul"], env=docker_env(docker.host, docker.config_dir), capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=20)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"a\x00b\nafter\n"
    docker.run("rm", "nul")


def test_kill_with_signal_and_not_running(docker, images):
    # pid 1 only gets signals it handles, as under Docker: the shell traps USR1
    docker.run("run", "-d", "--name", "victim", "busybox", "sh", "-c",
               "trap 'exit 42' USR1; while true; do sleep 0.1; done")
    docker.run("kill", "-s", "USR1", "victim")
    deadline = time.time() + 5
    while time.time() < deadline and json.loads(docker.run("inspect", "victim").stdout)[0]["State"]["Running"]:
        time.sleep(0.1)
    st = json.loads(docker.run("inspect", "victim").stdout)[0]["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 42
    p = docker.run("kill", "victim", check=False)
    assert p.returncode != 0 and "is not running" in p.stderr
    docker.run("rm", "victim")


def test_inspect_shape(docker, images):
    cid = docker.run("create", "--name", "shape", "-e", "EXTRA=1", "--label", "fx=1", "busybox",
                     "sleep", "5").stdout.strip()
    o = json.loads(docker.run("inspect", "shape").stdout)[0]
    assert o["Id"] == cid and o["Name"] == "/shape"
    assert o["Path"] == "sleep" and o["Args"] == ["5"]
    assert o["State"]["Status"] == "created"
    assert "EXTRA=1" in o["Config"]["Env"]
    assert o["Config"]["Labels"] == {"fx": "1"}
    assert o["Config"]["Image"] == "busybox"
    assert o["Image"].startswith("sha256:")
    for key in ("Created", "ResolvConfPath", "HostnamePath", "HostsPath", "LogPath", "RestartCount", "Driver",
                "Platform", "HostConfig", "GraphDriver", "Mounts", "NetworkSettings"):
        assert key in o
    assert docker.run("inspect", "--format", "{{.State.Status}}", cid[:12]).stdout.strip() == "created"
    docker.run("rm", "shape")


def test_ps_filters_and_quiet(docker, images):
    docker.run("create", "--name", "f1", "--label", "team=a", "busybox", "true")
    docker.run("create", "--name", "f2", "--label", "team=b", "busybox", "true")
    out = docker.run("ps", "-a", "--filter", "label=team=a", "--format", "{{.Names}}").stdout.split()
    assert out == ["f1"]
    out = docker.run("ps", "-a", "--filter", "name=f2", "-q").stdout.split()
    assert len(out) == 1 and len(out[0]) == 12
    out = docker.run("ps", "-a", "--filter", "status=created", "--format", "{{.Names}}").stdout.split()
    assert "f1" in out and "f2" in out
    p = docker.run("ps", "--filter", "bogus=1", check=False)
    assert p.returncode != 0 and "invalid filter" in p.stderr
    docker.run("rm", "f1", "f2")


def test_tty_run_gives_a_prompt_and_resizes(berthd, docker, images):
    env = docker_env(berthd.host, docker.config_dir)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe("docker", ["docker", "run", "--rm", "-it", "busybox", "sh"], env)
    out = b""

    def read_until(token, timeout=15):
        nonlocal out
        deadline = time.time() + timeout
        while token not in out and time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        return token in out

    assert read_until(b"# ")
    os.write(fd, b"stty size; echo done-$((1+2))\r")
    assert read_until(b"done-3")
    os.write(fd, b"exit 0\r")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0


def test_tty_is_the_containers_own_pts(berthd, docker, images):
    """As with runc: the pty comes from the container's devpts, so `tty` names
    /dev/pts/0, not /dev/console."""
    env = docker_env(berthd.host, docker.config_dir)
    code, out = pty_run(env, ["docker", "run", "--rm", "-it", "busybox", "tty"])
    assert code == 0, out
    assert out.strip() == b"/dev/pts/0", out


def test_dockerpy_run_and_wait(client, images):
    out = client.containers.run("busybox", ["echo", "from docker-py"], remove=True)
    assert out == b"from docker-py\n"
    c = client.containers.run("busybox", ["sh", "-c", "exit 7"], detach=True)
    assert c.wait()["StatusCode"] == 7
    c.remove()


def test_ps_filters_ancestor_before_since(docker, images):
    docker.run("create", "--name", "old1", "busybox", "true")
    time.sleep(0.05)
    docker.run("create", "--name", "mid1", "layered", "true")
    time.sleep(0.05)
    docker.run("create", "--name", "new1", "busybox", "true")
    names = lambda *f: sorted(docker.run("ps", "-a", *f, "--format", "{{.Names}}").stdout.split())
    assert "mid1" in names("--filter", "ancestor=layered")
    assert "old1" not in names("--filter", "ancestor=layered")
    assert {"old1", "new1"} <= set(names("--filter", "ancestor=busybox"))
    assert "old1" in names("--filter", "before=mid1") and "new1" not in names("--filter", "before=mid1")
    assert "new1" in names("--filter", "since=mid1") and "old1" not in names("--filter", "since=mid1")
    assert names("--filter", "expose=8080/tcp") == ["mid1"]
    assert {"old1", "mid1", "new1"} <= set(names("--filter", "network=bridge"))
    assert names("--filter", "network=none") == []
    docker.run("rm", "old1", "mid1", "new1")


def test_clients_that_leave_do_not_hold_threads(berthd, docker, images):
    """`docker run -d` asks to wait and leaves; events and logs -f clients leave too.
    Their request threads must end, not stay until the container exits."""
    def threads():
        with open("/proc/%d/status" % berthd.proc.pid) as f:
            return int([l for l in f if l.startswith("Threads:")][0].split()[1])
    base = threads()
    cid = docker.run("run", "-d", "busybox", "sleep", "60").stdout.strip()
    for _ in range(3):
        docker.run("run", "-d", "busybox", "sleep", "60")
    subprocess.run(["timeout", "1", "docker", "events"], env=docker_env(berthd.host, docker.config_dir),
                   stdin=subprocess.DEVNULL, capture_output=True)
    subprocess.run(["timeout", "1", "docker", "logs", "-f", cid], env=docker_env(berthd.host, docker.config_dir),
                   stdin=subprocess.DEVNULL, capture_output=True)
    deadline = time.time() + 5
    while time.time() < deadline and threads() > base:
        time.sleep(0.2)
    assert threads() <= base
    for c in docker.run("ps", "-q", "--filter", "ancestor=busybox").stdout.split():
        docker.run("rm", "-f", c)


def test_rename(docker, images):
    cid = docker.run("create", "--name", "before-rn", "busybox", "true").stdout.strip()
    docker.run("create", "--name", "taken-rn", "busybox", "true")
    docker.run("rename", "before-rn", "after-rn")
    assert docker.run("inspect", "-f", "{{.Name}}", cid).stdout.strip() == "/after-rn"
    p = docker.run("rename", "after-rn", "taken-rn", check=False)
    assert p.returncode != 0 and 'The container name "/taken-rn" is already in use' in p.stderr
    p = docker.run("rename", "after-rn", "bad name!", check=False)
    assert p.returncode != 0 and "Invalid container name" in p.stderr
    docker.run("rm", "after-rn", "taken-rn")


def test_ps_size_counts_the_writable_layer(docker, images):
    docker.run("run", "--name", "sized", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /big")
    out = docker.run("ps", "-a", "-s", "--filter", "name=sized", "--format", "{{.Size}}").stdout.strip()
    assert out.startswith("300kB (virtual "), out
    o = json.loads(docker.run("inspect", "--size", "sized").stdout)[0]
    assert o["SizeRw"] == 300000 and o["SizeRootFs"] > 300000
    docker.run("rm", "sized")


def test_log_options_checked_at_create(docker, images):
    p = docker.run("create", "--log-driver", "awslogs", "busybox", "true", check=False)
    assert p.returncode != 0 and 'logging driver "awslogs" is not supported by berth' in p.stderr
    p = docker.run("create", "--log-opt", "bogus=1", "busybox", "true", check=False)
    assert p.returncode != 0 and "unknown log opt 'bogus' for json-file log driver" in p.stderr
    p = docker.run("create", "--log-opt", "compress=true", "busybox", "true", check=False)
    assert p.returncode != 0 and "not supported by berth" in p.stderr
    cid = docker.run("run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
                     "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done").stdout.strip()
    docker.run("wait", cid)
    log = json.loads(docker.run("inspect", cid).stdout)[0]["LogPath"]
    assert os.path.getsize(log) < 1100 and os.path.exists(log + ".1") and not os.path.exists(log + ".2")
    assert docker.run("logs", "--tail", "1", cid).stdout == "line-199\n"
    docker.run("rm", cid)
    cid = docker.run("run", "-d", "--log-driver", "none", "busybox", "echo", "x").stdout.strip()
    docker.run("wait", cid)
    p = docker.run("logs", cid, check=False)
    assert p.returncode != 0 and "does not support reading" in p.stderr
    docker.run("rm", cid)


def test_run_interactive_stdin_is_binary_safe(docker, images):
    """Without a TTY, ctrl-p ctrl-q are data, not a detach (as in dockerd)."""
    import hashlib
    data = bytes(range(256)) * 64 + b"\x10\x11tail"
    p = subprocess.run(["docker", "run", "-i", "--rm", "busybox", "md5sum"], input=data, capture_output=True,
                       timeout=30, env=docker_env(docker.host, docker.config_dir))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[0].decode() == hashlib.md5(data).hexdigest()


def test_container_prune_and_system_df(docker, images):
    a = docker.run("create", "--label", "prune-test=keep", "busybox", "true").stdout.strip()
    b = docker.run("create", "--label", "prune-test=go", "busybox", "true").stdout.strip()
    running = docker.run("run", "-d", "--label", "prune-test=go", "busybox", "sleep", "300").stdout.strip()
    try:
        df = json.loads(docker.run("system", "df", "--format", "{{json .}}").stdout.splitlines()[1])
        assert df["Type"] == "Containers" and int(df["TotalCount"]) >= 3 and int(df["Active"]) >= 1
        out = docker.run("container", "prune", "-f", "--filter", "label=prune-test=go").stdout
        assert b in out and running not in out and a not in out
        ids = docker.run("ps", "-aq", "--no-trunc").stdout.split()
        assert a in ids and running in ids and b not in ids
        out = docker.run("container", "prune", "-f", "--filter", "label!=prune-test=keep",
                         "--filter", "label=prune-test").stdout
        assert a not in out
        p = docker.run("container", "prune", "-f", "--filter", "bogus=1", check=False)
        assert p.returncode != 0 and "invalid filter 'bogus'" in p.stderr
    finally:
        docker.run("rm", "-f", a, running, check=False)


def windows_image_archive(path):
    """busybox's docker-archive with the config saying "os": "windows"."""
    import hashlib
    import io
    import tarfile
    src = tarfile.open(os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    manifest = json.load(src.extractfile("manifest.json"))
    config = json.load(src.extractfile(manifest[0]["Config"]))
    config["os"] = "windows"
    blob = json.dumps(config).encode()
    manifest[0]["Config"] = hashlib.sha256(blob).hexdigest() + ".json"
    manifest[0]["RepoTags"] = ["berth-test/windows:latest"]
    with tarfile.open(path, "w") as out:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            out.addfile(ti, io.BytesIO(data))
        add(manifest[0]["Config"], blob)
        for layer in manifest[0]["Layers"]:
            add(layer, src.extractfile(layer).read())
        add("manifest.json", json.dumps(manifest).encode())


def test_an_image_for_another_os_cannot_make_a_container(docker, client, images, tmp_path):
    archive = str(tmp_path / "windows.tar")
    windows_image_archive(archive)
    docker.run("load", "-i", archive)
    before = docker.run("ps", "-aq").stdout.split()
    try:
        for args in (["create"], ["run", "--rm"]):
            p = docker.run(*args, "berth-test/windows", "true", check=False)
            assert p.returncode != 0, args
            assert 'image operating system "windows" cannot be used on this platform' in p.stderr, p.stderr
        import docker as dockerpy
        with pytest.raises(dockerpy.errors.APIError) as e:
            client.api.create_container("berth-test/windows", ["true"])
        assert e.value.status_code == 400
        assert docker.run("ps", "-aq").stdout.split() == before
    finally:
        for c in set(docker.run("ps", "-aq").stdout.split()) - set(before):
            docker.run("rm", "-f", c)
        docker.run("rmi", "berth-test/windows")


def test_env_without_value_is_kept_in_config_not_in_the_process(docker, images):
    """dockerd keeps `-e FOO` (no value, none in the client's environment) in Config.Env;
    the process gets only the variables that have a value, and FOO unsets the image's."""
    assert "FOO_UNSET_T" not in os.environ and "APP_HOME" not in os.environ  # the CLI sends the bare names
    p = docker.run("run", "--name", "envkeep", "-e", "FOO_UNSET_T", "-e", "BAR=1", "-e", "APP_HOME", "layered",
                   "sh", "-c", "env")
    assert "BAR=1" in p.stdout.split()
    assert "FOO_UNSET_T" not in p.stdout and "APP_HOME" not in p.stdout
    cfg_env = json.loads(docker.run("inspect", "envkeep").stdout)[0]["Config"]["Env"]
    assert "FOO_UNSET_T" in cfg_env and "APP_HOME" in cfg_env and "BAR=1" in cfg_env
    assert not any(e.startswith("APP_HOME=") for e in cfg_env)  # the image's value is overridden
    docker.run("rm", "envkeep")


def test_log_driver_default_and_unknown(docker, images):
    cid = docker.run("create", "busybox", "true").stdout.strip()
    hc = json.loads(docker.run("inspect", cid).stdout)[0]["HostConfig"]
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {}}
    docker.run("rm", cid)
    p = docker.run("create", "--log-driver", "asdf", "busybox", "true", check=False)
    assert p.returncode != 0 and "logger: no log driver named 'asdf' is registered" in p.stderr
    assert "asdf" not in docker.run("ps", "-a", "--format", "{{.ID}} {{.Command}}").stdout


def test_host_config_runtime_in_inspect(docker, client, images):
    cid = docker.run("create", "busybox", "true").stdout.strip()
    info = json.loads(docker.run("info", "--format", "{{json .DefaultRuntime}}").stdout)
    assert json.loads(docker.run("inspect", cid).stdout)[0]["HostConfig"]["Runtime"] == info
    docker.run("rm", cid)
    c = client.containers.create("busybox", "true", runtime="runc")
    assert c.attrs["HostConfig"]["Runtime"] == "runc"
    c.remove()


# What dockerd's inspect always shows (Go fields without omitempty), API 1.45.
DOCKERD_HOST_CONFIG_KEYS = (
    "Binds ContainerIDFile LogConfig NetworkMode PortBindings RestartPolicy AutoRemove VolumeDriver VolumesFrom "
    "ConsoleSize CapAdd CapDrop CgroupnsMode Dns DnsOptions DnsSearch ExtraHosts GroupAdd IpcMode Cgroup Links "
    "OomScoreAdj PidMode Privileged PublishAllPorts ReadonlyRootfs SecurityOpt UTSMode UsernsMode ShmSize Isolation "
    "CpuShares Memory NanoCpus CgroupParent BlkioWeight BlkioWeightDevice BlkioDeviceReadBps BlkioDeviceWriteBps "
    "BlkioDeviceReadIOps BlkioDeviceWriteIOps CpuPeriod CpuQuota CpuRealtimePeriod CpuRealtimeRuntime CpusetCpus "
    "CpusetMems Devices DeviceCgroupRules DeviceRequests MemoryReservation MemorySwap MemorySwappiness OomKillDisable "
    "PidsLimit Ulimits CpuCount CpuPercent IOMaximumIOps IOMaximumBandwidth MaskedPaths ReadonlyPaths").split()
DOCKERD_CONFIG_KEYS = ("Hostname Domainname User AttachStdin AttachStdout AttachStderr Tty OpenStdin StdinOnce Env "
                       "Cmd Image Volumes WorkingDir Entrypoint OnBuild Labels").split()


def test_inspect_has_every_field_dockerd_shows(client, images):
    """A bare API create (docker-py sends almost nothing) still inspects with dockerd's
    full Config and HostConfig, defaults filled in."""
    c = client.api.create_container("busybox", "true")
    try:
        o = client.api.inspect_container(c["Id"])
        missing = [k for k in DOCKERD_HOST_CONFIG_KEYS if k not in o["HostConfig"]]
        assert not missing, missing
        missing = [k for k in DOCKERD_CONFIG_KEYS if k not in o["Config"]]
        assert not missing, missing
        hc = o["HostConfig"]
        assert hc["NetworkMode"] == "default" and hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
        assert hc["LogConfig"] == {"Type": "json-file", "Config": {}} and hc["PortBindings"] == {}
        assert o["Config"]["Cmd"] == ["true"] and o["Config"]["Labels"] == {}
    finally:
        client.api.remove_container(c["Id"])
