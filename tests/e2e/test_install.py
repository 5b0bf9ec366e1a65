"""`make install` / `make uninstall`, the systemd units, socket activation and readiness
notification (sd_notify) of an installed berthd, as an administrator replacing dockerd
would use them. No systemd runs as PID 1 here: the units are checked with
`systemd-analyze verify` and activation is done by `systemd-socket-activate`."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BERTHD, ROOT, TESTDATA, Berthd, DockerCLI, daemon_env, http_raw

BUILT = ["build/berthd", "build/berth-shim", "build/berth-init", "build/berthd.8"]


def make_install(target, *args):
    """`make install` without rebuilding anything (-o: the build is what the harness runs)."""
    old = [a for f in BUILT for a in ("-o", f)]
    return subprocess.run(["make", "-s", "-C", ROOT, *old, target, *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def tmpdir_():
    d = tempfile.mkdtemp(prefix="berth-e2e-install-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def flags_of_help():
    out = subprocess.run([BERTHD, "--help"], capture_output=True, text=True).stdout
    return re.findall(r"--([a-z0-9-]+)", out)


def test_install_and_uninstall_into_destdir(tmpdir_):
    p = make_install("install", "DESTDIR=" + tmpdir_, "PREFIX=/usr")
    assert p.returncode == 0, p.stderr
    want = ["usr/bin/berthd", "usr/bin/berth-shim", "usr/bin/berth-init", "usr/lib/systemd/system/berth.service",
            "usr/lib/systemd/system/berth.socket", "etc/berth/daemon.json", "usr/share/man/man8/berthd.8",
            "usr/share/doc/berth/daemon.json.example"]
    for f in want:
        assert os.path.isfile(os.path.join(tmpdir_, f)), f
    for f in want[:3]:
        assert os.access(os.path.join(tmpdir_, f), os.X_OK), f
    # the default daemon.json is JSON (no comments) that berthd accepts
    with open(os.path.join(tmpdir_, "etc/berth/daemon.json")) as f:
        assert isinstance(json.load(f), dict)
    p = subprocess.run([os.path.join(tmpdir_, "usr/bin/berthd"), "--validate", "--config-file",
                        os.path.join(tmpdir_, "etc/berth/daemon.json")], capture_output=True, text=True)
    assert p.returncode == 0 and "configuration OK" in p.stderr, p.stderr
    # the example with every key at its default is valid too
    example = os.path.join(tmpdir_, "usr/share/doc/berth/daemon.json.example")
    p = subprocess.run([os.path.join(tmpdir_, "usr/bin/berthd"), "--validate", "--config-file", example],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "configuration OK" in p.stderr, p.stderr
    unit = open(os.path.join(tmpdir_, "usr/lib/systemd/system/berth.service")).read()
    assert "ExecStart=/usr/bin/berthd -H fd://" in unit and "Type=notify" in unit
    assert "ExecReload=/bin/kill -s HUP $MAINPID" in unit
    sock = open(os.path.join(tmpdir_, "usr/lib/systemd/system/berth.socket")).read()
    assert "SocketGroup=docker" in sock and "ListenStream=/run/berth/berth.sock" in sock

    # the man page lists every flag of --help and every daemon.json key
    page = open(os.path.join(tmpdir_, "usr/share/man/man8/berthd.8")).read().replace("\\-", "-")
    assert page.count(".TP") > 40
    for flag in flags_of_help():
        assert "--" + flag in page, flag
    for key in ("hosts", "default-ulimits", "labels", "exec-opts", "dns-opts", "proxies", "features",
                "registry-mirrors", "insecure-registries", "userns-remap"):
        assert key in page, key

    # an administrator's daemon.json survives a second install and the uninstall
    with open(os.path.join(tmpdir_, "etc/berth/daemon.json"), "w") as f:
        f.write('{"debug": true}\n')
    assert make_install("install", "DESTDIR=" + tmpdir_, "PREFIX=/usr").returncode == 0
    p = make_install("uninstall", "DESTDIR=" + tmpdir_, "PREFIX=/usr")
    assert p.returncode == 0, p.stderr
    left = sorted(os.path.relpath(os.path.join(d, f), tmpdir_) for d, _, fs in os.walk(tmpdir_) for f in fs)
    assert left == ["etc/berth/daemon.json"]
    assert open(os.path.join(tmpdir_, "etc/berth/daemon.json")).read() == '{"debug": true}\n'
    # an unchanged default one goes with the rest
    assert make_install("install", "DESTDIR=" + tmpdir_ + "/b", "PREFIX=/usr").returncode == 0
    assert make_install("uninstall", "DESTDIR=" + tmpdir_ + "/b", "PREFIX=/usr").returncode == 0
    left = [f for d, _, fs in os.walk(tmpdir_ + "/b") for f in fs]
    assert left == []


def test_systemd_analyze_verifies_the_units(tmpdir_):
    prefix = os.path.join(tmpdir_, "usr")
    assert make_install("install", "PREFIX=" + prefix).returncode == 0
    units = os.path.join(prefix, "lib/systemd/system")
    # a prefix whose configuration is not under /etc: the unit names the file it installed
    assert ("ExecStart=%s/bin/berthd -H fd:// --config-file %s/etc/berth/daemon.json\n" % (prefix, prefix)
            in open(os.path.join(units, "berth.service")).read())
    # MANPATH: verify also checks that Documentation=man:berthd(8) exists
    p = subprocess.run(["systemd-analyze", "verify", os.path.join(units, "berth.socket"),
                        os.path.join(units, "berth.service")], capture_output=True, text=True,
                       env=dict(os.environ, MANPATH=os.path.join(prefix, "share/man") + ":"))
    assert p.returncode == 0, p.stdout + p.stderr
    # the same check fails on a broken unit: it is not a check that cannot fail
    with open(os.path.join(units, "berth.service"), "a") as f:
        f.write("\n[Service]\nExecStart=relative/berthd\n")
    p = subprocess.run(["systemd-analyze", "verify", os.path.join(units, "berth.service")], capture_output=True,
                       text=True, env=dict(os.environ, MANPATH=os.path.join(prefix, "share/man") + ":"))
    assert p.returncode != 0


def test_socket_activation_starts_the_installed_berthd_on_demand(tmpdir_):
    prefix = os.path.join(tmpdir_, "usr")
    assert make_install("install", "PREFIX=" + prefix).returncode == 0
    installed = os.path.join(prefix, "bin/berthd")
    d = Berthd()
    d.args = ["systemd-socket-activate", "-l", d.sock, installed, "-H", "fd://", "--data-root", d.data_root,
              "--exec-root", d.exec_root, "--pidfile", d.pidfile, "--config-file", d.config_file, *d.net_args]
    cli = DockerCLI(d.host)
    try:
        d.start(wait=False)
        deadline = time.time() + 5
        while not os.path.exists(d.sock) and time.time() < deadline:
            time.sleep(0.01)
        assert os.path.exists(d.sock)
        # nothing runs berthd before the first connection
        assert not os.path.exists(d.pidfile)
        # the first connection starts berthd, which answers it (issue 14's goal: <= 50 ms)
        t0 = time.monotonic()
        out = http_raw(d.sock, b"GET /v1.45/version HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        took = time.monotonic() - t0
        assert out.startswith(b"HTTP/1.1 200")
        print("first /version through socket activation: %.1f ms" % (took * 1000))
        assert took < 1.0  # generous: the machine is shared; the print has the real figure
        v = json.loads(cli.run("version", "--format", "{{json .Server}}").stdout)
        assert v["Components"][0]["Name"] == "Engine"
        with open(d.pidfile) as f:
            assert int(f.read()) == d.proc.pid  # systemd-socket-activate exec'd berthd
        # the installed berthd finds the installed shim and init next to itself
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        out = cli.run("run", "--rm", "--init", "busybox", "sh", "-c", "echo up; cat /proc/1/cmdline").stdout
        assert out.startswith("up\n") and "init" in out
        info = json.loads(cli.run("info", "--format", "{{json .Runtimes}}").stdout)
        assert info["berth"]["path"] == os.path.join(prefix, "bin/berth-shim")
        assert d.stop() == 0
        assert "Daemon shutdown complete" in d.read_log()
    finally:
        cli.cleanup()
        d.cleanup()


def recv_all(sock, until, timeout=10):
    """Datagrams on @sock until one contains @until."""
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if until in msg:
            return got
    raise AssertionError("no %r in %r" % (until, got))


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_sd_notify_ready_reloading_stopping(fresh_daemon, abstract):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    base = tempfile.mkdtemp(prefix="berth-e2e-notify-")
    if abstract:
        name = "berth-e2e-notify-%d" % os.getpid()
        s.bind("\0" + name)
        addr = "@" + name
    else:
        addr = os.path.join(base, "notify.sock")
        s.bind(addr)
    try:
        env = daemon_env()
        env["NOTIFY_SOCKET"] = addr
        d = fresh_daemon(env=env, start=False)
        d.start(wait=False)
        assert recv_all(s, "READY=1")[-1] == "READY=1"
        # READY=1 comes once the API answers
        assert subprocess.run(["docker", "-H", d.host, "version"], capture_output=True).returncode == 0
        d.proc.send_signal(signal.SIGHUP)
        msgs = recv_all(s, "READY=1")
        reloading = [m for m in msgs if m.startswith("RELOADING=1")]
        assert reloading, msgs
        usec = int(re.search(r"MONOTONIC_USEC=(\d+)", reloading[0]).group(1))
        now = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
        assert 0 < now - usec < 10e6
        d.proc.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in recv_all(s, "STOPPING=1")[-1]
        assert d.proc.wait(10) == 0
    finally:
        s.close()
        shutil.rmtree(base, ignore_errors=True)


def test_without_notify_socket_nothing_is_sent_and_a_dead_one_is_not_fatal(fresh_daemon):
    env = daemon_env()
    env["NOTIFY_SOCKET"] = "/nonexistent/notify.sock"
    d = fresh_daemon(env=env)  # starts and answers /_ping
    assert "cannot notify the service manager" in d.read_log()
