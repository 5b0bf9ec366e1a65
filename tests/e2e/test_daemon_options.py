"""dockerd's daemon options in berthd: --validate, options berth lacks refused by name,
container defaults (ulimits, shm size, cgroup namespace and parent, no-new-privileges,
DNS), daemon settings shown by `docker info`, the socket group, proxies, download
attempts."""
import grp
import json
import os
import socket
import stat
import subprocess
import signal
import threading
import time
import http.server

import pytest

from conftest import BERTHD, TESTDATA, DockerCLI, daemon_env


def run_berthd(*args, timeout=10):
    return subprocess.run([BERTHD, *args], capture_output=True, text=True, timeout=timeout)


def test_validate_ok_and_error(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"labels": ["a=b"], "default-shm-size": "128m", "debug": True}))
    p = run_berthd("--validate", "--config-file", str(good), "-H", "unix://" + str(tmp_path / "s.sock"))
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip() == "configuration OK"
    assert not (tmp_path / "s.sock").exists()  # validated, not started

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"default-cgroupns-mode": "shared"}))
    p = run_berthd("--validate", "--config-file", str(bad))
    assert p.returncode == 1
    assert "default cgroup namespace mode (shared) is invalid" in p.stderr
    assert "configuration OK" not in p.stderr

    p = run_berthd("--validate", "--config-file", str(good), "--debug")
    assert p.returncode == 1
    assert "specified both as a flag and in the configuration file: debug" in p.stderr


def test_options_berth_lacks_are_refused_by_name(fresh_daemon):
    d = fresh_daemon(config=json.dumps({"cri-containerd": True, "live-restore": True}), start=False)
    p = subprocess.run(d.args, capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "the following directives are not supported by berth: cri-containerd" in p.stderr
    assert not os.path.exists(d.sock)
    p = run_berthd("--raw-logs")
    assert p.returncode != 0 and "flag --raw-logs is not supported by berth" in p.stderr
    p = run_berthd("--validate", "--selinux-enabled")
    assert p.returncode == 1 and "SELinux is not supported by berth" in p.stderr
    p = run_berthd("--validate", "--exec-opt", "native.cgroupdriver=systemd")
    assert p.returncode == 1 and "native.cgroupdriver=systemd" in p.stderr


PARENT = "berth-e2e-parent-%d" % os.getpid()


@pytest.fixture(scope="module")
def defaults_daemon():
    from conftest import Berthd
    cfg = {
        "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1111, "Hard": 2222}},
        "default-shm-size": "32M",
        "default-cgroupns-mode": "host",
        "cgroup-parent": "/" + PARENT,
        "no-new-privileges": True,
        "dns": ["192.0.2.53"],
        "dns-search": ["example.test"],
        "dns-opts": ["ndots:3"],
        "labels": ["tier=e2e", "zone=a"],
        "experimental": True,
        "live-restore": True,
        "exec-opts": ["native.cgroupdriver=cgroupfs"],
        "proxies": {"http-proxy": "http://user:secret@127.0.0.1:9", "no-proxy": "localhost,127.0.0.1"},
    }
    d = Berthd(config=json.dumps(cfg)).start()
    cli = DockerCLI(d.host)
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield d, cli
    cli.run("rm", "-f", *cli.run("ps", "-aq").stdout.split(), check=False)
    cli.cleanup()
    d.cleanup()
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            os.rmdir(os.path.join(base, PARENT))
        except OSError:
            pass


def test_container_defaults_take_effect(defaults_daemon):
    d, cli = defaults_daemon
    out = cli.run("run", "--rm", "busybox", "sh", "-c",
                  "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1; grep NoNewPrivs /proc/self/status; "
                  "cat /etc/resolv.conf; cat /proc/self/cgroup").stdout
    lines = out.splitlines()
    assert lines[0] == "1111" and lines[1] == "2222"
    assert lines[2].split()[1] == str(32 * 1024)
    assert lines[3].split() == ["NoNewPrivs:", "1"]
    assert "nameserver 192.0.2.53" in out and "search example.test" in out and "options ndots:3" in out
    # cgroupns host: the container sees its real cgroup, under the daemon's cgroup-parent
    assert "/%s/" % PARENT in out


def test_a_containers_own_settings_win_over_the_defaults(defaults_daemon):
    d, cli = defaults_daemon
    out = cli.run("run", "--rm", "--ulimit", "nofile=500:600", "--shm-size", "16m", "--dns", "192.0.2.99",
                  "--security-opt", "no-new-privileges=false", "--cgroupns", "private", "busybox", "sh", "-c",
                  "ulimit -n; df -k /dev/shm | tail -1; grep NoNewPrivs /proc/self/status; "
                  "cat /etc/resolv.conf; cat /proc/self/cgroup").stdout
    lines = out.splitlines()
    assert lines[0] == "500"
    assert lines[1].split()[1] == str(16 * 1024)
    assert lines[2].split() == ["NoNewPrivs:", "0"]
    assert "nameserver 192.0.2.99" in out and "192.0.2.53" not in out
    assert "0::/\n" in out  # a private cgroup namespace


def test_info_shows_the_daemon_settings(defaults_daemon):
    d, cli = defaults_daemon
    info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
    assert info["Labels"] == ["tier=e2e", "zone=a"]
    assert info["ExperimentalBuild"] is True
    assert info["LiveRestoreEnabled"] is True
    assert info["CgroupDriver"] == "cgroupfs"
    assert "name=no-new-privileges" in info["SecurityOptions"]
    assert "name=seccomp,profile=builtin" in info["SecurityOptions"]
    assert info["HttpProxy"] == "http://xxxxx:xxxxx@127.0.0.1:9"  # credentials masked as dockerd does
    assert info["NoProxy"] == "localhost,127.0.0.1"
    # the configured pool, then the ULA /48 dockerd (27+) adds when no IPv6 pool is configured
    pools = info["DefaultAddressPools"]
    assert pools[0] == {"Base": "10.%d.16.0/20" % d.net, "Size": 24}
    assert [(p["Base"].startswith("fd") and p["Base"].endswith("::/48"), p["Size"]) for p in pools[1:]] == [(True, 64)]
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    text = cli.run("info").stdout
    assert "Labels:\n  tier=e2e\n  zone=a" in text
    assert "Live Restore Enabled: true" in text


def test_version_experimental_init_binary_and_tcp_warning(defaults_daemon, fresh_daemon):
    d, cli = defaults_daemon
    v = json.loads(cli.run("version", "--format", "{{json .Server}}").stdout)
    assert v["Components"][0]["Details"]["Experimental"] == "true"
    assert info_of(cli)["InitBinary"] == "berth-init"
    assert not any("without encryption" in w for w in info_of(cli)["Warnings"] or [])
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t = fresh_daemon("-H", "tcp://127.0.0.1:%d" % port)
    tcli = DockerCLI(t.host)
    try:
        v = json.loads(tcli.run("version", "--format", "{{json .Server}}").stdout)
        assert v["Components"][0]["Details"]["Experimental"] == "false"
        warnings = info_of(tcli)["Warnings"]
        assert any(w.startswith("WARNING: API is accessible on http://127.0.0.1:%d without encryption." % port)
                   for w in warnings), warnings
    finally:
        tcli.cleanup()


def info_of(cli):
    return json.loads(cli.run("info", "--format", "{{json .}}").stdout)


def test_socket_group(fresh_daemon, tmp_path):
    d = fresh_daemon("-G", "root")
    st = os.stat(d.sock)
    assert st.st_gid == 0 and stat.S_IMODE(st.st_mode) == 0o660
    d = fresh_daemon("--group", "4242")  # a number need not name a group
    st = os.stat(d.sock)
    assert st.st_gid == 4242 and stat.S_IMODE(st.st_mode) == 0o660
    bad = fresh_daemon("--group", "no-such-group-berth", start=False)
    p = subprocess.run(bad.args, capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and "group no-such-group-berth not found" in p.stderr


class CountingRegistry(http.server.BaseHTTPRequestHandler):
    """A registry on 127.0.0.1 that answers /v2/ and fails every manifest with 503."""
    manifest_gets = 0

    def do_GET(self):
        if self.path.startswith("/v2/") and "/manifests/" in self.path:
            CountingRegistry.manifest_gets += 1
            self.send_response(503)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *a):
        pass


@pytest.mark.parametrize("attempts", [1, 3])
def test_max_download_attempts(fresh_daemon, attempts):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CountingRegistry)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    CountingRegistry.manifest_gets = 0
    d = fresh_daemon(config=json.dumps({"max-download-attempts": attempts,
                                        "insecure-registries": ["127.0.0.1:%d" % srv.server_port]}))
    cli = DockerCLI(d.host)
    try:
        p = cli.run("pull", "127.0.0.1:%d/x/y:latest" % srv.server_port, check=False, timeout=60)
        assert p.returncode != 0
        assert CountingRegistry.manifest_gets == attempts
    finally:
        cli.cleanup()
        srv.shutdown()


def test_shutdown_timeout_forces_a_shutdown_that_takes_longer(fresh_daemon):
    # 0 s: the deadline has passed as soon as shutdown starts (dockerd's context with a
    # zero timeout), so the shutdown is forced: exit status 1 and dockerd's message.
    d = fresh_daemon(config=json.dumps({"shutdown-timeout": 0}))
    assert d.stop() == 1
    assert "Force shutdown daemon" in d.read_log()
    # the default (15 s) is far from reached: a clean shutdown
    d = fresh_daemon()
    assert d.stop() == 0
    assert "Force shutdown daemon" not in d.read_log()
    assert "Daemon shutdown complete" in d.read_log()


class RecordingProxy(http.server.BaseHTTPRequestHandler):
    """An HTTP proxy on 127.0.0.1 that records what it is asked for and refuses it all."""
    seen = []

    def do_CONNECT(self):
        RecordingProxy.seen.append(self.path)
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_CONNECT

    def log_message(self, *a):
        pass


def test_proxies_carry_registry_traffic_and_reload(fresh_daemon):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingProxy)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    proxy = "http://127.0.0.1:%d" % srv.server_port
    RecordingProxy.seen = []
    # the harness's environment points every proxy at a dead 127.0.0.1:9: only the
    # configured proxy can see the pull
    # (and no no_proxy in it: the environment's no_proxy applies as with dockerd, whose
    # proxies only override the variables they set)
    env = {k: v for k, v in daemon_env().items() if k.lower() != "no_proxy"}
    d = fresh_daemon(config=json.dumps({"proxies": {"http-proxy": proxy, "https-proxy": proxy},
                                        "max-download-attempts": 1}), env=env)
    cli = DockerCLI(d.host)
    try:
        p = cli.run("pull", "localhost:1/x/y:latest", check=False, timeout=60)
        assert p.returncode != 0
        assert any("localhost:1" in s for s in RecordingProxy.seen), RecordingProxy.seen
        # no-proxy, set by a reload, sends it around the proxy (to nothing on localhost:1)
        RecordingProxy.seen = []
        with open(d.config_file, "w") as f:
            json.dump({"proxies": {"http-proxy": proxy, "https-proxy": proxy, "no-proxy": "localhost"},
                       "max-download-attempts": 1}, f)
        before = d.read_log().count("Reloaded configuration")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while d.read_log().count("Reloaded configuration") == before and time.time() < deadline:
            time.sleep(0.02)
        assert json.loads(cli.run("info", "--format", "{{json .NoProxy}}").stdout) == "localhost"
        p = cli.run("pull", "localhost:1/x/y:latest", check=False, timeout=60)
        assert p.returncode != 0
        assert RecordingProxy.seen == []
    finally:
        cli.cleanup()
        srv.shutdown()


def test_the_example_daemon_json_runs_a_daemon(fresh_daemon):
    from conftest import ROOT
    with open(os.path.join(ROOT, "contrib", "etc", "daemon.json.example")) as f:
        cfg = json.load(f)
    for k in ("data-root", "exec-root"):  # the harness gives these as flags
        cfg.pop(k)
    d = fresh_daemon(config=json.dumps(cfg))
    cli = DockerCLI(d.host)
    try:
        info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
        assert info["LiveRestoreEnabled"] is False and info["CgroupDriver"] == "cgroupfs"
        assert info["HttpProxy"] == "http://127.0.0.1:9"  # "" in the file: the environment's
    finally:
        cli.cleanup()
