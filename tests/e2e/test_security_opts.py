"""--security-opt as dockerd takes it, through the stock CLI: seccomp=PROFILE.json (the CLI
sends the file's content) with errors naming the bad rule, seccomp=unconfined, the daemon's
--seccomp-profile (a file, or "unconfined"), no-new-privileges, systempaths=unconfined,
label=/apparmor= (accepted with no effect on a host without SELinux or AppArmor, as dockerd
does), --cgroupns private|host with the daemon's default, and docker info's SecurityOptions."""
import json
import os
import subprocess

import pytest

from conftest import TESTDATA, DockerCLI

DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
}


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


def run(cli, *args, check=True):
    return cli.run("run", "--rm", *args, check=check)


def seccomp_mode(cli, *opts):
    """The Seccomp: line of the container's init (0 off, 2 filtering)."""
    out = run(cli, *opts, "busybox", "grep", "^Seccomp:", "/proc/self/status").stdout
    return out.split()[1]


def host_has_apparmor():
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().startswith("Y")
    except OSError:
        return False


def test_seccomp_profile_file_from_the_cli(docker, images, tmp_path):
    prof = tmp_path / "deny-mkdir.json"
    prof.write_text(json.dumps(DENY_MKDIR))
    p = run(docker, "--security-opt", "seccomp=%s" % prof, "busybox", "sh", "-c", "mkdir /tmp/x; echo rc=$?",
            check=False)
    assert "rc=1" in p.stdout and "Operation not permitted" in p.stderr, (p.stdout, p.stderr)
    # the same command without it: the default profile allows mkdir
    assert run(docker, "busybox", "sh", "-c", "mkdir /tmp/x; echo rc=$?").stdout.strip() == "rc=0"


@pytest.mark.parametrize("profile,message", [
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["chmod", "fchmod"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQUALS"}]}]},
     'syscalls[1] (chmod, fchmod): unknown operator "SCMP_CMP_EQUALS"'),
    ({"defaultAction": "SCMP_ACT_DENY"}, 'defaultAction: unknown action "SCMP_ACT_DENY"'),
    ({"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": {"index": 0}}]},
     "Decoding seccomp profile failed: syscalls[0].args: expected an array"),
])
def test_bad_seccomp_profile_is_refused_naming_the_rule(docker, images, tmp_path, profile, message):
    prof = tmp_path / "bad.json"
    prof.write_text(json.dumps(profile))
    p = docker.run("create", "--name", "bad-seccomp", "--security-opt", "seccomp=%s" % prof, "busybox", "true",
                   check=False)
    try:
        assert p.returncode != 0
        assert message in p.stderr, p.stderr
        assert docker.run("inspect", "bad-seccomp", check=False).returncode != 0  # nothing created
    finally:
        docker.run("rm", "-f", "bad-seccomp", check=False)


def test_seccomp_unconfined_and_builtin(docker, images):
    assert seccomp_mode(docker) == "2"
    assert seccomp_mode(docker, "--security-opt", "seccomp=unconfined") == "0"
    assert seccomp_mode(docker, "--security-opt", "seccomp=builtin") == "2"
    assert seccomp_mode(docker, "--privileged") == "0"


def test_no_new_privileges(docker, images):
    out = run(docker, "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status")
    assert out.stdout.split() == ["NoNewPrivs:", "1"]
    out = run(docker, "--security-opt", "no-new-privileges=true", "busybox", "grep", "NoNewPrivs", "/proc/self/status")
    assert out.stdout.split() == ["NoNewPrivs:", "1"]
    out = run(docker, "busybox", "grep", "NoNewPrivs", "/proc/self/status")
    assert out.stdout.split() == ["NoNewPrivs:", "0"]


def test_systempaths_unconfined(docker, images):
    # by default /proc/sys is read-only and /proc/kcore, /proc/timer_list, ... are masked
    # (those this kernel has)
    script = "grep -c -e ' /proc/sys ' -e ' /proc/kcore ' -e ' /proc/timer_list ' /proc/self/mountinfo"
    assert int(run(docker, "busybox", "sh", "-c", script).stdout.strip()) >= 2
    p = run(docker, "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c", script, check=False)
    assert p.stdout.strip() == "0", (p.stdout, p.stderr)
    cid = docker.run("create", "--security-opt", "systempaths=unconfined", "busybox").stdout.strip()
    try:
        hc = json.loads(docker.run("inspect", "-f", "{{json .HostConfig}}", cid).stdout)
        assert hc["MaskedPaths"] == [] and hc["ReadonlyPaths"] == []
    finally:
        docker.run("rm", cid)


def create_via_api(client, host_config):
    """POST /containers/create as an API client sends it (the CLI checks some options
    itself first)."""
    import docker as dockerpy
    with pytest.raises(dockerpy.errors.APIError) as e:
        client.api.create_container("busybox", ["true"], host_config=host_config)
    return e.value


def test_bad_security_opts_are_refused_at_create(docker, client, images):
    for opt, msg in (("nonsense=1", 'invalid --security-opt 2: "nonsense=1"'),
                     ("justaword", 'invalid --security-opt 1: "justaword"'),
                     ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"')):
        e = create_via_api(client, {"SecurityOpt": [opt]})
        assert e.status_code == 400 and msg in str(e.explanation), e
    p = docker.run("create", "--security-opt", "nonsense=1", "busybox", check=False)
    assert p.returncode != 0 and 'invalid --security-opt 2: "nonsense=1"' in p.stderr, p.stderr


@pytest.mark.skipif(host_has_apparmor(), reason="this host has AppArmor: berth refuses profiles there")
def test_label_and_apparmor_have_no_effect_without_selinux_and_apparmor(docker, images):
    """dockerd with SELinux support off (berth never has it on) takes label=... and does
    nothing with it; on a host without AppArmor it takes apparmor=... the same way."""
    out = run(docker, "--security-opt", "label=level:s0:c100,c200", "--security-opt", "apparmor=docker-default",
              "busybox", "echo", "ran").stdout
    assert out == "ran\n"
    assert run(docker, "--security-opt", "label=disable", "--security-opt", "apparmor=unconfined", "busybox",
               "echo", "ran").stdout == "ran\n"


def cgroup_line(cli, *opts):
    out = run(cli, *opts, "busybox", "cat", "/proc/self/cgroup").stdout
    return out


def test_cgroupns_private_and_host(docker, client, images):
    private = cgroup_line(docker, "--cgroupns", "private")
    host = cgroup_line(docker, "--cgroupns", "host")
    # private: the container's own cgroup is the root of what it sees
    assert all(line.endswith(":/") for line in private.splitlines()), private
    # host: the real path, under berth's cgroup parent
    assert any(not line.endswith(":/") for line in host.splitlines()), host
    e = create_via_api(client, {"CgroupnsMode": "shared"})
    assert e.status_code == 400 and "invalid cgroup namespace mode: shared" in str(e.explanation), e


def info_of(cli):
    return json.loads(cli.run("info", "--format", "{{json .}}").stdout)


def test_info_security_options_of_the_default_daemon(docker):
    sec = info_of(docker)["SecurityOptions"]
    assert sec[0] == "name=seccomp,profile=builtin"
    with open("/proc/mounts") as f:
        v2 = any(line.split()[1] == "/sys/fs/cgroup" and line.split()[2] == "cgroup2" for line in f)
    # cgroupns is listed when containers get a private cgroup namespace by default (v2)
    assert ("name=cgroupns" in sec) == v2, sec
    assert "name=no-new-privileges" not in sec


def test_daemon_seccomp_profile_file(fresh_daemon, tmp_path):
    prof = tmp_path / "daemon-profile.json"
    prof.write_text(json.dumps(DENY_MKDIR))
    d = fresh_daemon("--seccomp-profile", str(prof), "--default-cgroupns-mode", "private")
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        sec = info_of(cli)["SecurityOptions"]
        assert sec[0] == "name=seccomp,profile=%s" % prof
        assert "name=cgroupns" in sec
        # containers that name no profile get the daemon's
        p = run(cli, "busybox", "sh", "-c", "mkdir /tmp/x; echo rc=$?")
        assert p.stdout.strip() == "rc=1"
        # their own choice wins: builtin, unconfined
        assert run(cli, "--security-opt", "seccomp=builtin", "busybox", "sh", "-c",
                   "mkdir /tmp/x; echo rc=$?").stdout.strip() == "rc=0"
        assert seccomp_mode(cli, "--security-opt", "seccomp=unconfined") == "0"
        # the default cgroup namespace is now private
        assert all(line.endswith(":/") for line in cgroup_line(cli).splitlines())
    finally:
        cli.cleanup()


def test_daemon_seccomp_profile_unconfined_in_daemon_json(fresh_daemon):
    d = fresh_daemon(config=json.dumps({"seccomp-profile": "unconfined", "no-new-privileges": True}))
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        sec = info_of(cli)["SecurityOptions"]
        assert sec[0] == "name=seccomp,profile=unconfined" and sec[-1] == "name=no-new-privileges", sec
        assert seccomp_mode(cli) == "0"
        assert seccomp_mode(cli, "--security-opt", "seccomp=builtin") == "2"
    finally:
        cli.cleanup()


def test_daemon_seccomp_profile_errors_at_start(fresh_daemon, tmp_path):
    d = fresh_daemon(start=False)
    p = subprocess.run(d.args + ["--seccomp-profile", str(tmp_path / "missing.json")], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode != 0 and "opening seccomp profile (%s) failed" % (tmp_path / "missing.json") in p.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_EXPLODE"}]}))
    p = subprocess.run(d.args + ["--seccomp-profile", str(bad)], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and 'syscalls[0] (mkdir): unknown action "SCMP_ACT_EXPLODE"' in p.stderr, p.stderr
    assert not os.path.exists(d.sock)
