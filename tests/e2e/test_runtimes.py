"""External OCI runtimes (issue 15): runc registered because it is installed, --runtime per
container, --add-runtime, daemon.json "runtimes" (path, runtimeArgs), --default-runtime,
docker info's Runtimes and DefaultRuntime, dockerd's errors; and everything a user does
with a container run by runc under berth-shim: output, attach, logs, exec (with a TTY),
pause, stop and kill, stats, top, restart policies, OOM, and a berthd restart (and kill -9)
with the container running. That runc really ran it shows in runc's own state, kept under
berth's exec root (EXEC-ROOT/runtime-runc), never in /run/runc."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import BERTHD, TESTDATA, DockerCLI, daemon_env, docker_env, pty_run

RUNC = shutil.which("runc") or "/usr/sbin/runc"


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


def runc_state(d, cid, name="runc"):
    """runc's own view of @cid under the daemon's state root (None: runc does not know it)."""
    p = subprocess.run([RUNC, "--root", os.path.join(d.exec_root, "runtime-" + name), "state", cid],
                       capture_output=True, text=True)
    return json.loads(p.stdout) if p.returncode == 0 else None


def state(docker, name):
    return json.loads(docker.run("inspect", name).stdout)[0]["State"]


def wait_for(cond, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_info_lists_runtimes(docker, berthd):
    info = json.loads(docker.run("info", "--format", "{{json .}}").stdout)
    assert os.access(RUNC, os.X_OK), "runc must be installed (packages.txt)"
    # the built-in runtime under its own name, runc as dockerd lists it (path as configured)
    assert info["Runtimes"]["runc"] == {"path": "runc"}
    assert info["Runtimes"]["io.containerd.runc.v2"] == {"path": "runc"}  # dockerd's other name for it
    assert "berth" in info["Runtimes"] and info["Runtimes"]["berth"]["path"].endswith("berth-shim")
    want = os.environ.get("BERTH_E2E_DEFAULT_RUNTIME") or "berth"
    assert info["DefaultRuntime"] == want
    out = docker.run("info").stdout
    assert "Runtimes:" in out and "runc" in out and "Default Runtime: " + want in out


def test_run_with_runc_output_exit_code_and_record(docker, berthd, images):
    p = docker.run("run", "--name", "rt-out", "--runtime", "runc", "busybox", "sh", "-c",
                   "echo out; echo err >&2; tr '\\0' ' ' < /proc/1/cmdline; exit 7", check=False)
    try:
        assert p.returncode == 7
        assert p.stdout == "out\nsh -c echo out; echo err >&2; tr '\\0' ' ' < /proc/1/cmdline; exit 7 "
        assert p.stderr == "err\n"
        c = json.loads(docker.run("inspect", "rt-out").stdout)[0]
        assert c["HostConfig"]["Runtime"] == "runc"
        assert c["State"]["ExitCode"] == 7 and c["State"]["Status"] == "exited"
        assert docker.run("logs", "rt-out").stdout == p.stdout
        # runc's state for it was deleted once the exit was recorded (the shim's deferred
        # `runc delete`, off the exit's path)
        assert wait_for(lambda: runc_state(berthd, c["Id"]) is None, 5)
    finally:
        docker.run("rm", "-f", "rt-out", check=False)


def test_runc_runs_it_with_berths_state_root(docker, berthd, images):
    cid = docker.run("run", "-d", "--runtime", "runc", "busybox", "sleep", "600").stdout.strip()
    try:
        st = runc_state(berthd, cid)
        assert st is not None and st["status"] == "running"
        assert st["pid"] == state(docker, cid)["Pid"]
        assert st["bundle"] == os.path.join(berthd.exec_root, "containers", cid)
        # not in the state directory of a dockerd on the machine
        assert not os.path.exists(os.path.join("/run/runc", cid))
        # the same cgroup berth reads stats and top from
        cg = docker.run("exec", cid, "cat", "/proc/1/cgroup").stdout
        assert "/berth/" + cid in cg
    finally:
        docker.run("rm", "-f", cid)
    assert wait_for(lambda: runc_state(berthd, cid) is None, 5)  # the deferred `runc delete`


def test_runc_attach_stdin_and_logs(docker, images):
    p = docker.run("run", "--rm", "-i", "--runtime", "runc", "busybox", "sh", "-c", "tr a-z A-Z; echo done >&2",
                   input="hello through runc\n")
    assert p.stdout == "HELLO THROUGH RUNC\n" and p.stderr == "done\n"
    cid = docker.run("run", "-d", "--runtime", "runc", "busybox", "sh", "-c",
                     "for i in 1 2 3; do echo line$i; done; sleep 600").stdout.strip()
    try:
        assert wait_for(lambda: docker.run("logs", cid).stdout == "line1\nline2\nline3\n")
    finally:
        docker.run("rm", "-f", cid)


def test_runc_tty_run_and_exec(docker, berthd, images):
    env = docker_env(berthd.host, docker.config_dir)
    code, out = pty_run(env, ["docker", "run", "--rm", "-t", "--runtime", "runc", "busybox", "sh", "-c",
                              "tty; stty size; exit 3"])
    assert code == 3, out
    assert b"/dev/pts/0" in out and b"33 101" in out
    code, out = pty_run(env, ["docker", "run", "--rm", "-it", "--runtime", "runc", "busybox", "sh"],
                        script=[(b"# ", b"echo typed-$((5*5))\r"), (b"typed-25", b"exit 6\r")])
    assert code == 6 and b"typed-25" in out, out
    cid = docker.run("run", "-d", "-t", "--runtime", "runc", "busybox", "sh").stdout.strip()
    try:
        code, out = pty_run(env, ["docker", "exec", "-t", cid, "sh", "-c", "tty; stty size; echo $TERM"])
        assert code == 0, out
        assert b"/dev/pts/" in out and b"33 101" in out and b"xterm" in out
        code, out = pty_run(env, ["docker", "exec", "-it", cid, "sh"], script=[(b"# ", b"echo in-$((6*7))\r"),
                                                                               (b"in-42", b"exit 5\r")])
        assert code == 5 and b"in-42" in out, out
    finally:
        docker.run("rm", "-f", cid)


def test_runc_exec(docker, images):
    cid = docker.run("run", "-d", "--runtime", "runc", "-e", "FROM_RUN=yes", "busybox", "sleep", "600").stdout.strip()
    try:
        p = docker.run("exec", cid, "sh", "-c", "echo $FROM_RUN; cat /proc/1/cmdline; echo err >&2; exit 4",
                       check=False)
        assert p.returncode == 4 and p.stdout == "yes\nsleep\x00600\x00" and p.stderr == "err\n"
        p = docker.run("exec", "-i", cid, "wc", "-c", input="x" * 200000)
        assert p.stdout.strip() == "200000"
        assert docker.run("exec", "-u", "nobody", "-w", "/tmp", cid, "sh", "-c", "id -u; pwd").stdout == "65534\n/tmp\n"
        p = docker.run("exec", cid, "nope", check=False)
        assert p.returncode == 126
        assert ('OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": '
                'executable file not found in $PATH: unknown') in p.stdout + p.stderr
        # a detached exec runs on, and its end is recorded
        eid = json.loads(subprocess.run(
            ["curl", "-s", "--unix-socket", docker.host[len("unix://"):], "-X", "POST", "-H",
             "Content-Type: application/json", "-d", json.dumps({"Cmd": ["sh", "-c", "exit 9"]}),
             "http://d/containers/%s/exec" % cid], capture_output=True, text=True).stdout)["Id"]
        subprocess.run(["curl", "-s", "--unix-socket", docker.host[len("unix://"):], "-X", "POST", "-H",
                        "Content-Type: application/json", "-d", json.dumps({"Detach": True}),
                        "http://d/exec/%s/start" % eid], capture_output=True, check=True)

        def exec_done():
            out = subprocess.run(["curl", "-s", "--unix-socket", docker.host[len("unix://"):],
                                  "http://d/exec/%s/json" % eid], capture_output=True, text=True).stdout
            j = json.loads(out)
            return not j["Running"] and j["ExitCode"] == 9
        assert wait_for(exec_done)
    finally:
        docker.run("rm", "-f", cid)


def test_runc_pause_unpause(docker, berthd, images):
    cid = docker.run("run", "-d", "--runtime", "runc", "busybox", "sh", "-c",
                     "while true; do date +%s%N > /tmp/t; sleep 0.05; done").stdout.strip()
    try:
        docker.run("pause", cid)
        assert state(docker, cid)["Status"] == "paused"
        assert runc_state(berthd, cid)["status"] == "paused"
        p = docker.run("exec", cid, "true", check=False)
        assert p.returncode != 0 and "is paused" in p.stderr
        docker.run("unpause", cid)
        assert state(docker, cid)["Status"] == "running"
        assert runc_state(berthd, cid)["status"] == "running"
        a = docker.run("exec", cid, "cat", "/tmp/t").stdout
        assert wait_for(lambda: docker.run("exec", cid, "cat", "/tmp/t").stdout != a)
    finally:
        docker.run("rm", "-f", cid)


def test_runc_stop_and_kill_exit_codes(docker, images):
    cid = docker.run("run", "-d", "--runtime", "runc", "busybox", "sh", "-c",
                     "trap 'exit 42' TERM; while true; do sleep 0.1; done").stdout.strip()
    try:
        docker.run("stop", "-t", "10", cid)
        st = state(docker, cid)
        assert st["Status"] == "exited" and st["ExitCode"] == 42 and not st["OOMKilled"]
        docker.run("start", cid)  # again: runc's state of the first run is gone
        assert state(docker, cid)["Running"]
        docker.run("kill", cid)
        assert docker.run("wait", cid).stdout.strip() == "137"
        docker.run("start", cid)
        docker.run("kill", "-s", "USR1", cid)  # no handler: pid 1 of a namespace ignores it
        time.sleep(0.3)
        assert state(docker, cid)["Running"]
        docker.run("kill", "-s", "TERM", cid)
        assert docker.run("wait", cid).stdout.strip() == "42"
    finally:
        docker.run("rm", "-f", cid)


def test_runc_stats_top_and_update(docker, client, berthd, images):
    cid = docker.run("run", "-d", "--runtime", "runc", "--memory", "64m", "busybox", "sh", "-c",
                     "x=$(head -c 3000000 /dev/zero | tr '\\0' a); sleep 600").stdout.strip()
    try:
        s = client.api.stats(cid, stream=False)
        assert s["memory_stats"]["limit"] == 64 << 20
        assert s["memory_stats"]["usage"] > 0 and s["pids_stats"]["current"] >= 1
        top = docker.run("top", cid).stdout
        assert "sleep 600" in top
        docker.run("update", "--memory", "96m", "--memory-swap", "192m", "--pids-limit", "50", cid)
        assert client.api.stats(cid, stream=False)["memory_stats"]["limit"] == 96 << 20
        # through runc's own `update`: its state has the new values
        with open(os.path.join(berthd.exec_root, "runtime-runc", cid, "state.json")) as f:
            cg = json.load(f)["config"]["cgroups"]
        assert cg["memory"] == 96 << 20 and cg["memory_swap"] == 192 << 20 and cg["pids_limit"] == 50
        assert not os.path.exists(os.path.join(berthd.exec_root, "containers", cid, "update.json"))
        p = docker.run("update", "--memory", "1g", cid, check=False)  # still checked by berthd first
        assert p.returncode != 0 and "update the memoryswap at the same time" in p.stderr
        assert client.api.stats(cid, stream=False)["memory_stats"]["limit"] == 96 << 20
    finally:
        docker.run("rm", "-f", cid)


def test_runc_oom_killed(docker, images):
    p = docker.run("run", "--name", "rt-hog", "--runtime", "runc", "--memory", "32m", "busybox", "sh", "-c",
                   "x=a; while true; do x=$x$x; done", check=False, timeout=120)
    try:
        assert p.returncode == 137, p.stderr
        assert state(docker, "rt-hog")["OOMKilled"] is True
    finally:
        docker.run("rm", "-f", "rt-hog", check=False)


def test_runc_restart_policy(docker, images):
    cid = docker.run("run", "-d", "--runtime", "runc", "--restart", "on-failure:2", "busybox", "sh", "-c",
                     "echo run; exit 3").stdout.strip()
    try:
        assert wait_for(lambda: json.loads(docker.run("inspect", cid).stdout)[0]["RestartCount"] == 2
                        and not state(docker, cid)["Restarting"] and not state(docker, cid)["Running"], 30)
        assert state(docker, cid)["ExitCode"] == 3
        assert docker.run("logs", cid).stdout == "run\nrun\nrun\n"
    finally:
        docker.run("rm", "-f", cid)


def test_unknown_runtime_is_refused_with_dockerds_message(docker, images):
    before = docker.run("ps", "-aq").stdout
    p = docker.run("run", "--rm", "--runtime", "nope", "busybox", "true", check=False)
    assert p.returncode == 125
    assert "unknown or invalid runtime name: nope" in p.stderr
    c = docker.run("create", "--runtime", "io.containerd.runc.v2", "busybox", "true").stdout.strip()
    docker.run("rm", c)
    p = docker.run("create", "--runtime", "io.containerd.kata.v2", "busybox", "true", check=False)
    assert p.returncode != 0 and "unknown or invalid runtime name: io.containerd.kata.v2" in p.stderr
    assert docker.run("ps", "-aq").stdout == before


def test_runc_container_survives_berthd_restart_and_kill9(fresh_daemon):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cid = cli.run("run", "-d", "--runtime", "runc", "--name", "keeper", "busybox", "sh", "-c",
                      "trap 'exit 0' TERM; i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done").stdout.strip()
        pid = state(cli, cid)["Pid"]
        for how in (signal.SIGTERM, signal.SIGKILL):
            d.stop(how)
            time.sleep(0.5)
            os.kill(pid, 0)  # still running while berthd is down
            d.start()
            st = state(cli, cid)
            assert st["Running"] and st["Pid"] == pid
            assert runc_state(d, cid)["status"] == "running"
            assert cli.run("exec", cid, "echo", "back").stdout == "back\n"
            n = len(cli.run("logs", cid).stdout.split())
            assert wait_for(lambda: len(cli.run("logs", cid).stdout.split()) > n)
        cli.run("stop", cid)
        st = state(cli, cid)
        assert st["Status"] == "exited" and st["ExitCode"] == 0
        assert wait_for(lambda: runc_state(d, cid) is None, 5)
        cli.run("rm", cid)
    finally:
        cli.run("rm", "-f", "keeper", check=False)
        cli.cleanup()


def write_wrapper(base):
    """A runtime of the test's own: records its arguments, then runs runc."""
    path = os.path.join(base, "wrapped-runc")
    with open(path, "w") as f:
        f.write('#!/bin/sh\necho "$@" >> %s/wrapped.args\nexec %s "$@"\n' % (base, RUNC))
    os.chmod(path, stat.S_IRWXU)
    return path


def test_daemon_json_runtimes_and_default_runtime(fresh_daemon, tmp_path):
    wrapper = write_wrapper(str(tmp_path))
    cfg = {"runtimes": {"wrapped": {"path": wrapper, "runtimeArgs": ["--debug"]}}, "default-runtime": "wrapped"}
    d = fresh_daemon(config=json.dumps(cfg))
    cli = DockerCLI(d.host)
    try:
        info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
        assert info["DefaultRuntime"] == "wrapped"
        assert info["Runtimes"]["wrapped"] == {"path": wrapper, "runtimeArgs": ["--debug"]}
        assert info["Runtimes"]["runc"] == {"path": "runc"} and "berth" in info["Runtimes"]
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        p = cli.run("run", "--name", "wrapped-ctr", "busybox", "sh", "-c", "echo via wrapper")
        assert p.stdout == "via wrapper\n"
        assert json.loads(cli.run("inspect", "wrapped-ctr").stdout)[0]["HostConfig"]["Runtime"] == "wrapped"
        # The delete runs after the exit is recorded, off the path of wait: it may come
        # after docker run has returned.
        deadline = time.time() + 10
        while True:
            with open(os.path.join(str(tmp_path), "wrapped.args")) as f:
                calls = f.read().splitlines()
            if any(" delete --force " in c for c in calls) or time.time() > deadline:
                break
            time.sleep(0.05)
        root = os.path.join(d.exec_root, "runtime-wrapped")
        # runtimeArgs first, then berth's own state root, then the command
        assert any(c.startswith("--debug --root %s --log " % root) and " create --bundle " in c for c in calls), calls
        assert any(" start " in c for c in calls) and any(" delete --force " in c for c in calls), calls
        # the built-in runtime is still there by name
        assert cli.run("run", "--rm", "--runtime", "berth", "busybox", "echo", "builtin").stdout == "builtin\n"
    finally:
        cli.run("rm", "-f", "wrapped-ctr", check=False)
        cli.cleanup()


def test_add_runtime_flag(fresh_daemon, tmp_path):
    wrapper = write_wrapper(str(tmp_path))
    d = fresh_daemon("--add-runtime", "Mine=" + wrapper)  # dockerd lower-cases the flag's names
    cli = DockerCLI(d.host)
    try:
        info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
        assert info["Runtimes"]["mine"] == {"path": wrapper} and info["DefaultRuntime"] == "berth"
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        assert cli.run("run", "--rm", "--runtime", "mine", "busybox", "echo", "mine").stdout == "mine\n"
        assert os.path.exists(os.path.join(str(tmp_path), "wrapped.args"))
        # a runtime whose binary went away: the start fails, saying so
        os.unlink(wrapper)
        p = cli.run("run", "--rm", "--runtime", "mine", "busybox", "true", check=False)
        assert p.returncode != 0 and "error while looking up the specified runtime path" in p.stderr
    finally:
        cli.cleanup()


@pytest.mark.parametrize("args,config,message", [
    (["--add-runtime", "runc=/bin/true"], None, "runtime name 'runc' is reserved"),
    (["--add-runtime", "berth=/bin/true"], None, "runtime name 'berth' is reserved"),
    (["--add-runtime", "noequals"], None, "invalid runtime argument: noequals"),
    (["--add-runtime", "a=/bin/true", "--add-runtime", "a=/bin/false"], None, "runtime 'a' was already defined"),
    (["--default-runtime", "nope"], None, "specified default runtime 'nope' does not exist"),
    ([], {"runtimes": {"x": {"runtimeType": "io.containerd.runsc.v1"}}}, "runtimeType is not supported by berth"),
    ([], {"runtimes": {"x": {}}}, "runtime x: either a runtimeType or a path must be configured"),
    ([], {"runtimes": {"x": {"path": "/bin/true", "runtimeArgs": "--debug"}}}, "runtimes.x.runtimeArgs"),
    (["--add-runtime", "x=/bin/true"], {"runtimes": {"y": {"path": "/bin/true"}}},
     "the following directives are specified both as a flag and in the configuration file: runtimes"),
])
def test_runtime_config_errors(tmp_path, args, config, message):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps(config or {}))
    p = subprocess.run([BERTHD, "--validate", "--config-file", str(cfg), *args], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode != 0 and message in p.stderr, p.stderr


def test_sighup_reloads_runtimes_and_default_runtime(fresh_daemon, tmp_path):
    wrapper = write_wrapper(str(tmp_path))
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        keep = cli.run("run", "-d", "--runtime", "runc", "busybox", "sleep", "600").stdout.strip()

        def reload(cfg, marker):
            with open(d.config_file + ".tmp", "w") as f:
                f.write(json.dumps(cfg))
            os.rename(d.config_file + ".tmp", d.config_file)
            before = d.read_log().count(marker)
            d.proc.send_signal(signal.SIGHUP)
            assert wait_for(lambda: d.read_log().count(marker) > before), d.read_log()[-2000:]

        reload({"runtimes": {"late": {"path": wrapper}}, "default-runtime": "late"}, "Reloaded configuration")
        info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
        assert info["DefaultRuntime"] == "late" and info["Runtimes"]["late"] == {"path": wrapper}
        cid = cli.run("create", "busybox", "true").stdout.strip()
        assert json.loads(cli.run("inspect", cid).stdout)[0]["HostConfig"]["Runtime"] == "late"
        cli.run("start", "-a", cid)
        assert os.path.exists(os.path.join(str(tmp_path), "wrapped.args"))
        # a bad file keeps what was loaded
        reload({"default-runtime": "gone"}, "Error reconfiguring the daemon")
        assert json.loads(cli.run("info", "--format", "{{json .}}").stdout)["DefaultRuntime"] == "late"
        # the runtime goes with the next good reload: its container can no longer start
        reload({}, "Reloaded configuration")
        assert json.loads(cli.run("info", "--format", "{{json .}}").stdout)["DefaultRuntime"] == "berth"
        p = cli.run("start", cid, check=False)
        assert p.returncode != 0 and "unknown or invalid runtime name: late" in p.stderr
        assert state(cli, keep)["Running"]  # a running container is not touched
        cli.run("rm", "-f", keep, cid)
    finally:
        cli.cleanup()


def test_runc_container_of_a_killed_shim(docker, berthd, images):
    """kill -9 of the shim: berthd records the exit and kills what is left; runc's state
    of that run (no `delete` came) does not stop the next start, nor outlive `docker rm`."""
    cid = docker.run("run", "-d", "--runtime", "runc", "busybox", "sleep", "600").stdout.strip()
    try:
        with open(os.path.join(berthd.exec_root, "containers", cid, "shim.pid")) as f:
            shim = int(f.read())
        pid = state(docker, cid)["Pid"]
        os.kill(shim, signal.SIGKILL)
        assert wait_for(lambda: not state(docker, cid)["Running"])
        assert state(docker, cid)["ExitCode"] == 137
        assert wait_for(lambda: not os.path.exists("/proc/%d" % pid))
        assert runc_state(berthd, cid) is not None  # stale: runc was never told
        docker.run("start", cid)
        st = runc_state(berthd, cid)
        assert st["status"] == "running" and st["pid"] == state(docker, cid)["Pid"] != pid
        with open(os.path.join(berthd.exec_root, "containers", cid, "shim.pid")) as f:
            os.kill(int(f.read()), signal.SIGKILL)
        assert wait_for(lambda: not state(docker, cid)["Running"])
    finally:
        docker.run("rm", "-f", cid)
    assert not os.path.exists(os.path.join(berthd.exec_root, "runtime-runc", cid))


def cgroup_roots():
    """The hierarchies' roots: /sys/fs/cgroup itself on v2, each mounted controller on v1."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return ["/sys/fs/cgroup"]
    return sorted(os.path.join("/sys/fs/cgroup", n) for n in os.listdir("/sys/fs/cgroup")
                  if os.path.exists(os.path.join("/sys/fs/cgroup", n, "cgroup.procs"))
                  and not os.path.islink(os.path.join("/sys/fs/cgroup", n)))


def test_runc_delete_after_the_exit_leaves_nothing(docker, berthd, images):
    """runc's delete runs after the exit is recorded: `--rm` answers without waiting for it,
    yet no runc state nor cgroup of the container stays; a start right after an exit (the
    same ID created again while that delete may still run) is not undone by it."""
    cid = docker.run("create", "--runtime", "runc", "busybox", "sh", "-c", "echo run").stdout.strip()
    try:
        for i in range(4):  # each start creates the ID again, right after the last exit
            p = docker.run("start", "-a", cid)
            assert p.stdout == "run\n"
        cid2 = docker.run("run", "-d", "--runtime", "runc", "busybox", "sleep", "600").stdout.strip()
        docker.run("restart", "-t", "0", cid2)
        assert state(docker, cid2)["Running"]
        assert runc_state(berthd, cid2)["status"] == "running"
        docker.run("rm", "-f", cid2)
        assert wait_for(lambda: runc_state(berthd, cid2) is None, 5)
    finally:
        docker.run("rm", "-f", cid, check=False)
    cidfile = os.path.join(berthd.exec_root, "rt-rm.cid")
    docker.run("run", "--rm", "--runtime", "runc", "--cidfile", cidfile, "busybox", "true")
    with open(cidfile) as f:
        cid3 = f.read().strip()
    os.unlink(cidfile)
    assert docker.run("inspect", cid3, check=False).returncode != 0  # removed when `run` returned
    for c in (cid, cid2, cid3):
        assert wait_for(lambda: not os.path.exists(os.path.join(berthd.exec_root, "runtime-runc", c)), 5)
        assert wait_for(lambda: not any(os.path.exists(os.path.join(r, "berth", c)) for r in cgroup_roots()), 5)


def test_runc_under_a_berthd_of_systemd_notify(fresh_daemon, tmp_path):
    """berthd started by systemd (Type=notify) has NOTIFY_SOCKET, which is berthd's own:
    runc must not see it (it would pass it into the container, and its start would wait
    for a READY=1 that busybox's sleep never sends)."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    env = daemon_env()
    env["NOTIFY_SOCKET"] = path
    d = fresh_daemon(env=env)
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        t = time.time()
        cid = cli.run("run", "-d", "--runtime", "runc", "busybox", "sleep", "600", timeout=90).stdout.strip()
        assert time.time() - t < 20
        assert state(cli, cid)["Running"]
        assert "NOTIFY_SOCKET" not in cli.run("exec", cid, "env").stdout
        assert cli.run("run", "--rm", "--runtime", "runc", "busybox", "echo", "ok").stdout == "ok\n"
        cli.run("rm", "-f", cid)
    finally:
        cli.cleanup()
        sock.close()


def test_runc_with_a_relative_cgroup_parent(fresh_daemon):
    """--cgroup-parent "name" is taken from the hierarchies' roots, by runc as by berth,
    also when berthd (so the shim, so runc) runs in a cgroup of its own: stats, top and the
    OOM flag read the cgroup the container is in."""
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    sub, parent = "berth-rt-daemon-%d" % os.getpid(), "berth-rt-parent-%d" % os.getpid()
    moved = []
    try:
        for root in cgroup_roots():
            os.makedirs(os.path.join(root, sub), exist_ok=True)
            for knob in ("cpuset.cpus", "cpuset.mems"):  # v1 cpuset: empty ones take no task
                if os.path.exists(os.path.join(root, knob)) and not open(os.path.join(root, sub, knob)).read().strip():
                    with open(os.path.join(root, sub, knob), "w") as f:
                        f.write(open(os.path.join(root, knob)).read().strip())
            with open(os.path.join(root, sub, "cgroup.procs"), "w") as f:
                f.write(str(d.proc.pid))
            moved.append(root)
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cid = cli.run("run", "-d", "--runtime", "runc", "--cgroup-parent", parent, "--memory", "48m", "busybox",
                      "sleep", "600").stdout.strip()
        cg = cli.run("exec", cid, "cat", "/proc/1/cgroup").stdout
        assert ":/%s/%s\n" % (parent, cid) in cg and sub not in cg, cg
        assert "sleep 600" in cli.run("top", cid).stdout
        s = json.loads(cli.run("stats", "--no-stream", "--format", "{{json .}}", cid).stdout)
        assert s["MemUsage"].endswith("48MiB"), s
        cli.run("rm", "-f", cid)
    finally:
        cli.cleanup()
        for root in moved:
            try:
                with open(os.path.join(root, "cgroup.procs"), "w") as f:
                    f.write(str(d.proc.pid))
            except OSError:
                pass
        for root in cgroup_roots():
            for name in (sub, parent):
                try:
                    os.rmdir(os.path.join(root, name))
                except OSError:
                    pass
