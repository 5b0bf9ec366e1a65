"""berthd's own command line, daemon.json, sockets, pidfile and shutdown."""
import grp
import json
import os
import signal
import socket
import stat
import subprocess

import pytest

from conftest import BERTHD, Berthd, DockerCLI, ping_ok


def run_berthd(*args, timeout=10):
    return subprocess.run([BERTHD, *args], capture_output=True, text=True, timeout=timeout)


def test_version_and_help():
    p = run_berthd("--version")
    assert p.returncode == 0 and p.stdout.startswith("berth version ")
    p = run_berthd("--help")
    assert p.returncode == 0
    for flag in ("--host", "--data-root", "--exec-root", "--pidfile", "--config-file", "--log-level", "--debug"):
        assert flag in p.stdout


def test_unknown_flag_fails_with_message():
    p = run_berthd("--no-such-flag")
    assert p.returncode != 0
    assert "unknown flag: --no-such-flag" in p.stderr


def test_unknown_daemon_json_key_fails(fresh_daemon):
    d = fresh_daemon(config='{"bogus-key": 1}', start=False)
    p = subprocess.run(d.args, capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "the following directives don't match any configuration option: bogus-key" in p.stderr
    assert not os.path.exists(d.sock)


def test_flag_and_file_conflict_fails(fresh_daemon):
    d = fresh_daemon(config='{"log-level": "debug"}', start=False)
    p = subprocess.run(d.args + ["--log-level", "warn"], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "specified both as a flag and in the configuration file: log-level" in p.stderr


def test_daemon_json_values_apply(fresh_daemon):
    d = fresh_daemon(config=json.dumps({"debug": True}))
    cli = DockerCLI(d.host)
    try:
        info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
        assert info["Debug"] is True
    finally:
        cli.cleanup()


def test_second_daemon_on_same_pidfile_refuses(berthd):
    other = Berthd()
    other.args[other.args.index("--pidfile") + 1] = berthd.pidfile
    try:
        p = subprocess.run(other.args, capture_output=True, text=True, timeout=10)
        assert p.returncode != 0
        assert "process with PID %d is still running" % berthd.proc.pid in p.stderr
        assert ping_ok(berthd.sock)
    finally:
        other.cleanup()


def test_second_daemon_on_same_socket_refuses(berthd):
    other = Berthd()
    other.args[other.args.index("-H") + 1] = berthd.host
    try:
        p = subprocess.run(other.args, capture_output=True, text=True, timeout=10)
        assert p.returncode != 0
        assert "another daemon is already serving it" in p.stderr
        assert ping_ok(berthd.sock)
        assert not os.path.exists(other.pidfile)
    finally:
        other.cleanup()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shuts_down_cleanly(fresh_daemon, sig):
    d = fresh_daemon()
    with open(d.pidfile) as f:
        assert int(f.read()) == d.proc.pid
    assert d.stop(sig) == 0
    assert not os.path.exists(d.sock)
    assert not os.path.exists(d.pidfile)
    assert "Daemon shutdown complete" in d.read_log()


def test_stale_socket_is_replaced(fresh_daemon):
    d = fresh_daemon(start=False)
    s = socket.socket(socket.AF_UNIX)
    s.bind(d.sock)  # bound but nobody listens: what a killed daemon leaves
    s.close()
    d.start()
    assert ping_ok(d.sock)


def test_socket_mode_and_group(berthd):
    st = os.stat(berthd.sock)
    assert stat.S_ISSOCK(st.st_mode)
    try:
        gid = grp.getgrnam("docker").gr_gid
    except KeyError:
        gid = None
    if gid is None:
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_gid == 0
    else:
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == gid


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_tcp_loopback_and_several_hosts(fresh_daemon):
    port = free_port()
    d = fresh_daemon("-H", "tcp://127.0.0.1:%d" % port)
    cli = DockerCLI("tcp://127.0.0.1:%d" % port)
    try:
        out = cli.run("version", "--format", "{{.Server.APIVersion}}").stdout.strip()
        assert out == "1.45"
        assert ping_ok(d.sock)  # the unix socket serves too
    finally:
        cli.cleanup()


def test_tcp_off_loopback_is_refused(fresh_daemon):
    d = fresh_daemon(start=False)
    p = subprocess.run(d.args + ["-H", "tcp://0.0.0.0:2375"], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "refusing to listen on tcp://0.0.0.0:2375 without TLS" in p.stderr  # tests/e2e/test_tls.py: the rest
    assert not os.path.exists(d.sock)
