"""Legacy (v1) plugins as dockerd finds and calls them: a volume driver and an
authorization plugin, both tests/e2e/plugins/fake_plugin.py on a unix socket in
EXEC-ROOT/plugins (one of the directories berthd searches besides /run/docker/plugins),
so no test writes the host's plugin directories. BERTH_PLUGIN_RETRY_SECONDS shortens
dockerd's 30-second window for finding and reaching a plugin (conftest sets it)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import TESTDATA, Berthd, DockerCLI

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "plugins", "fake_plugin.py")
RETRY_SECONDS = 2  # conftest.daemon_env's BERTH_PLUGIN_RETRY_SECONDS


class Plugin:
    """fake_plugin.py serving NAME.sock in @plugin_dir; calls() reads what it was asked."""

    def __init__(self, plugin_dir, name, *args, sock_name=None, spec=None):
        """@spec: "spec" or "json" to listen on TCP and be found by a NAME.spec (a URL) or
        a NAME/NAME.json ({"Addr": ...}) in @plugin_dir instead of a socket."""
        self.dir = tempfile.mkdtemp(prefix="berth-plugin-")
        self.name = name
        self.log = os.path.join(self.dir, "calls.log")
        self.voldir = os.path.join(self.dir, "vols")
        os.makedirs(self.voldir)
        os.makedirs(plugin_dir, exist_ok=True)
        self.sock = os.path.join(plugin_dir, (sock_name or name) + ".sock")
        self.args = [sys.executable, FAKE, self.sock, self.log, "--voldir", self.voldir, *args]
        self.spec, self.plugin_dir, self.spec_file = spec, plugin_dir, None
        if spec:
            self.args.append("--tcp")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ready = self.proc.stdout.readline().split()
        assert ready[:1] == [b"ready"]
        if self.spec == "spec":
            self.spec_file = os.path.join(self.plugin_dir, self.name + ".spec")
            with open(self.spec_file, "w") as f:
                f.write(" tcp://127.0.0.1:%d\n" % int(ready[1]))
        elif self.spec == "json":
            os.makedirs(os.path.join(self.plugin_dir, self.name), exist_ok=True)
            self.spec_file = os.path.join(self.plugin_dir, self.name, self.name + ".json")
            with open(self.spec_file, "w") as f:
                json.dump({"Name": self.name, "Addr": "http://127.0.0.1:%d" % int(ready[1])}, f)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        if self.spec_file and os.path.exists(self.spec_file):
            os.unlink(self.spec_file)

    def calls(self, method=None):
        try:
            with open(self.log) as f:
                out = [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []
        return [c for c in out if method is None or c["method"] == method]

    def cleanup(self):
        self.stop()
        subprocess.run(["rm", "-rf", self.dir])


@pytest.fixture(scope="module")
def daemon():
    d = Berthd().start()
    cli = DockerCLI(d.host)
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    d.cli = cli
    d.plugin_dir = os.path.join(d.exec_root, "plugins")
    yield d
    cli.cleanup()
    d.cleanup()


@pytest.fixture
def voldrv(daemon):
    p = Plugin(daemon.plugin_dir, "berthtestvol", "--implements", "VolumeDriver")
    yield p
    for c in daemon.cli.run("ps", "-aq").stdout.split():
        daemon.cli.run("rm", "-f", c, check=False)
    for v in daemon.cli.run("volume", "ls", "-q").stdout.split():
        daemon.cli.run("volume", "rm", "-f", v, check=False)
    p.cleanup()


def mount_ids(plugin, method):
    return [c["body"]["ID"] for c in plugin.calls(method)]


def unmounts_reach(plugin, n, timeout=10):
    """The Unmount IDs once there are @n (the monitor releases a stopped container's
    mounts just after its state is recorded, as dockerd's exit handling does)."""
    deadline = time.time() + timeout
    while time.time() < deadline and len(mount_ids(plugin, "VolumeDriver.Unmount")) < n:
        time.sleep(0.05)
    time.sleep(0.2)  # and no more than @n
    return mount_ids(plugin, "VolumeDriver.Unmount")


def test_volume_create_inspect_ls_rm(daemon, voldrv):
    cli = daemon.cli
    assert cli.run("volume", "create", "-d", "berthtestvol", "-o", "size=1g", "--label", "k=v", "pv1").stdout.strip() == "pv1"
    create = voldrv.calls("VolumeDriver.Create")
    assert create[-1]["body"]["Name"] == "pv1" and create[-1]["body"]["Opts"] == {"size": "1g"}
    assert voldrv.calls("Plugin.Activate")[0]["body"]["_accept"] == "application/vnd.docker.plugins.v1.2+json"
    v = json.loads(cli.run("volume", "inspect", "pv1").stdout)[0]
    assert v["Driver"] == "berthtestvol" and v["Name"] == "pv1"
    assert v["Mountpoint"] == os.path.join(voldrv.voldir, "pv1")
    assert v["Status"] == {"opts": {"size": "1g"}} and v["Labels"] == {"k": "v"}
    ls = cli.run("volume", "ls", "--format", "{{.Driver}} {{.Name}}").stdout.splitlines()
    assert "berthtestvol pv1" in ls
    assert cli.run("volume", "ls", "-q", "--filter", "driver=berthtestvol").stdout.split() == ["pv1"]
    # a volume the plugin has that berth never made shows too (dockerd lists every driver's)
    os.makedirs(os.path.join(voldrv.voldir, "outside"))
    with open(os.path.join(voldrv.voldir, "outside.opts"), "w") as f:
        f.write("{}")
    assert "outside" in cli.run("volume", "ls", "-q").stdout.split()
    assert json.loads(cli.run("volume", "inspect", "outside").stdout)[0]["Driver"] == "berthtestvol"
    # same name, other driver: dockerd's conflict
    p = cli.run("volume", "create", "-d", "local", "pv1", check=False)
    assert p.returncode != 0 and "driver 'berthtestvol' already has volume 'pv1'" in p.stderr
    cli.run("volume", "rm", "pv1")
    assert voldrv.calls("VolumeDriver.Remove")[-1]["body"]["Name"] == "pv1"
    assert "pv1" not in cli.run("volume", "ls", "-q").stdout.split()


def test_unknown_volume_driver_is_dockerds_error(daemon):
    t = time.time()
    p = daemon.cli.run("volume", "create", "-d", "nosuchberthplugin", "x1", check=False)
    assert p.returncode != 0
    assert 'error looking up volume plugin nosuchberthplugin: plugin "nosuchberthplugin" not found' in p.stderr
    # dockerd answers 404 (a NotFound error): --pull never keeps the CLI from taking it for
    # a missing image
    p = daemon.cli.run("run", "--rm", "--pull", "never", "--volume-driver", "nosuchberthplugin", "-v", "x2:/data",
                       "busybox", "true", check=False)
    assert p.returncode != 0
    assert 'error looking up volume plugin nosuchberthplugin: plugin "nosuchberthplugin" not found' in p.stderr
    assert time.time() - t < 4 * RETRY_SECONDS + 10  # retried for the window, then gave up


def test_two_containers_mount_once_each(daemon, voldrv):
    cli = daemon.cli
    a = cli.run("run", "-d", "--volume-driver", "berthtestvol", "-v", "shared:/data", "busybox",
                "sh", "-c", "echo from-a > /data/a; sleep 300").stdout.strip()
    b = cli.run("run", "-d", "--mount", "type=volume,src=shared,dst=/data,volume-driver=berthtestvol", "busybox",
                "sh", "-c", "sleep 300").stdout.strip()
    assert open(os.path.join(voldrv.voldir, "shared", "a")).read() == "from-a\n"
    assert cli.run("exec", b, "cat", "/data/a").stdout == "from-a\n"
    mounts = mount_ids(voldrv, "VolumeDriver.Mount")
    assert len(mounts) == 2 and len(set(mounts)) == 2  # one mount ID per container mount
    m = json.loads(cli.run("inspect", a).stdout)[0]["Mounts"][0]
    assert m["Driver"] == "berthtestvol" and m["Name"] == "shared" and m["Source"] == os.path.join(voldrv.voldir, "shared")
    p = cli.run("volume", "rm", "shared", check=False)
    assert p.returncode != 0 and "volume is in use" in p.stderr
    cli.run("stop", "-t", "0", a)
    assert unmounts_reach(voldrv, 1) == [mounts[0]]
    cli.run("stop", "-t", "0", b)
    assert sorted(unmounts_reach(voldrv, 2)) == sorted(mounts)
    # a new run is a new mount, unmounted once more
    cli.run("start", a)
    cli.run("stop", "-t", "0", a)
    assert len(mount_ids(voldrv, "VolumeDriver.Mount")) == 3
    assert sorted(unmounts_reach(voldrv, 3)) == sorted(mount_ids(voldrv, "VolumeDriver.Mount"))


def test_volume_subpath_of_a_plugin_volume(daemon, voldrv):
    """volume-subpath on a plugin's volume mounts that path only, and copies nothing up."""
    cli = daemon.cli
    cli.run("volume", "create", "-d", "berthtestvol", "subv")
    root = os.path.join(voldrv.voldir, "subv")
    os.makedirs(os.path.join(root, "sub"))
    with open(os.path.join(root, "secret"), "w") as f:
        f.write("outside\n")
    with open(os.path.join(root, "sub", "inner"), "w") as f:
        f.write("inside\n")
    out = cli.run("run", "--rm", "--mount", "type=volume,src=subv,dst=/var,volume-driver=berthtestvol,volume-subpath=sub",
                  "busybox", "sh", "-c", "ls /var; echo new > /var/made").stdout
    assert out.split() == ["inner"]  # not secret, not the image's /var copied up
    assert open(os.path.join(root, "sub", "made")).read() == "new\n"
    assert sorted(os.listdir(root)) == ["secret", "sub"]
    p = cli.run("run", "--rm", "--mount", "type=volume,src=subv,dst=/d,volume-driver=berthtestvol,volume-subpath=nope",
                "busybox", "true", check=False)
    assert p.returncode != 0 and "cannot access path" in p.stderr
    subprocess.run(["rm", "-rf", os.path.join(root, "sub")])  # fake_plugin.py removes no subdirectories
    cli.run("volume", "rm", "subv")


def test_cp_with_a_stopped_container_mounts_its_plugin_volume(daemon, voldrv, tmp_path):
    """docker cp to and from a stopped container whose volume is a plugin's: the plugin
    unmounted it at the stop, so the copy mounts it (a mount ID of its own) and unmounts
    it after, as dockerd does."""
    cli = daemon.cli
    cid = cli.run("create", "--volume-driver", "berthtestvol", "-v", "cpvol:/data", "busybox",
                  "sh", "-c", "echo before > /data/f").stdout.strip()
    cli.run("start", "-a", cid)
    assert unmounts_reach(voldrv, 1)
    n_mounts = len(mount_ids(voldrv, "VolumeDriver.Mount"))
    out = tmp_path / "f"
    cli.run("cp", cid + ":/data/f", str(out))
    assert out.read_text() == "before\n"
    (tmp_path / "g").write_text("copied in\n")
    cli.run("cp", str(tmp_path / "g"), cid + ":/data/g")
    assert open(os.path.join(voldrv.voldir, "cpvol", "g")).read() == "copied in\n"
    mounts = mount_ids(voldrv, "VolumeDriver.Mount")
    assert len(mounts) >= n_mounts + 2 and len(set(mounts)) == len(mounts)  # one per request
    assert sorted(unmounts_reach(voldrv, len(mounts))) == sorted(mounts)


def test_mounts_survive_kill9_and_unmount_once(daemon, voldrv):
    cli = daemon.cli
    a = cli.run("run", "-d", "--volume-driver", "berthtestvol", "-v", "crashv:/data", "busybox",
                "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done").stdout.strip()
    b = cli.run("run", "-d", "--volume-driver", "berthtestvol", "-v", "crashv:/data", "busybox",
                "sh", "-c", "sleep 2").stdout.strip()
    assert len(mount_ids(voldrv, "VolumeDriver.Mount")) == 2
    daemon.stop(signal.SIGKILL)
    time.sleep(3)  # b exits while berthd is down
    daemon.start()
    # b's mount released at restore, a's kept: it still runs
    mounts = mount_ids(voldrv, "VolumeDriver.Mount")
    assert unmounts_reach(voldrv, 1) == [mounts[1]]
    assert json.loads(cli.run("inspect", a).stdout)[0]["State"]["Running"]
    cli.run("stop", "-t", "5", a)
    assert sorted(unmounts_reach(voldrv, 2)) == sorted(mounts)
    # and a second restart does not unmount anything again
    daemon.stop(signal.SIGKILL)
    daemon.start()
    time.sleep(0.5)
    assert sorted(mount_ids(voldrv, "VolumeDriver.Unmount")) == sorted(mounts)
    assert len(mount_ids(voldrv, "VolumeDriver.Mount")) == 2


def test_plugin_socket_vanishes(daemon, voldrv):
    cli = daemon.cli
    cli.run("volume", "create", "-d", "berthtestvol", "gonevol")
    voldrv.stop()  # the process and its socket are gone
    t = time.time()
    p = cli.run("run", "--rm", "-v", "gonevol:/data", "busybox", "true", check=False, timeout=60)
    assert p.returncode != 0
    assert "error while mounting volume" in p.stderr and "berthtestvol.sock" in p.stderr
    p = cli.run("volume", "inspect", "gonevol", check=False, timeout=60)
    assert p.returncode != 0 and "berthtestvol" in p.stderr
    assert time.time() - t < 4 * RETRY_SECONDS + 10
    # the daemon still answers, and the plugin back on its socket works again
    cli.run("version")
    voldrv.start()
    assert json.loads(cli.run("volume", "inspect", "gonevol").stdout)[0]["Driver"] == "berthtestvol"


AUTHZ = "berthtestauthz"


@pytest.fixture
def authz_daemon():
    """A daemon of its own behind an authorization plugin that refuses --privileged and
    withholds the answers of GET /images/json."""
    d = Berthd(["--authorization-plugin", AUTHZ])
    p = Plugin(os.path.join(d.exec_root, "plugins"), AUTHZ, "--implements", "authz", "--deny-privileged",
               "--deny-res", "/images/json")
    d.start()
    cli = DockerCLI(d.host)
    d.cli, d.plugin = cli, p
    yield d
    p.start() if p.proc.poll() is not None else None
    for c in cli.run("ps", "-aq", check=False).stdout.split():
        cli.run("rm", "-f", c, check=False)
    cli.cleanup()
    d.cleanup()
    p.cleanup()


def test_authz_denies_privileged_and_allows_the_next(authz_daemon):
    import docker as dockerpy
    cli, plugin = authz_daemon.cli, authz_daemon.plugin
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    p = cli.run("run", "--rm", "--privileged", "busybox", "true", check=False)
    assert p.returncode != 0
    assert ("authorization denied by plugin %s: privileged containers are not allowed here" % AUTHZ) in p.stderr
    assert cli.run("ps", "-aq").stdout.strip() == ""  # the handler never ran
    assert cli.run("run", "--rm", "busybox", "echo", "allowed").stdout == "allowed\n"
    reqs = plugin.calls("AuthZPlugin.AuthZReq")
    creates = [c["body"] for c in reqs if "/containers/create" in c["body"]["RequestUri"]]
    assert len(creates) == 2 and all(c["RequestMethod"] == "POST" for c in creates)
    assert creates[0]["RequestUri"].startswith("/v1.")
    assert creates[0]["RequestHeaders"]["Content-Type"] == "application/json"
    assert all("Authorization" not in c["RequestHeaders"] for c in creates)
    assert "User" not in creates[0]  # no TLS client certificate on a unix socket
    res = [c["body"] for c in plugin.calls("AuthZPlugin.AuthZRes") if "/containers/create" in c["body"]["RequestUri"]]
    assert len(res) == 1 and res[0]["ResponseStatusCode"] == 201  # the refused one has no response
    assert json.loads(__import__("base64").b64decode(res[0]["ResponseBody"]))["Id"]
    # the status is dockerd's 403
    c = dockerpy.APIClient(base_url=authz_daemon.host, version="auto")
    with pytest.raises(dockerpy.errors.APIError) as e:
        c.create_container("busybox", host_config=c.create_host_config(privileged=True))
    assert e.value.status_code == 403
    c.close()


def test_authz_response_denied(authz_daemon):
    cli = authz_daemon.cli
    p = cli.run("images", check=False)
    assert p.returncode != 0 and ("authorization denied by plugin %s: response withheld" % AUTHZ) in p.stderr
    cli.run("ps")  # other answers pass


def test_authz_plugin_down_fails_closed(authz_daemon):
    cli, plugin = authz_daemon.cli, authz_daemon.plugin
    cli.run("ps")
    plugin.stop()
    t = time.time()
    p = cli.run("ps", check=False, timeout=60)
    assert p.returncode != 0
    assert ("plugin %s failed with error:" % AUTHZ) in p.stderr and "berthtestauthz.sock" in p.stderr
    assert time.time() - t < 4 * RETRY_SECONDS + 10
    plugin.start()
    cli.run("ps")


def test_authz_plugin_must_exist_at_start(fresh_daemon):
    d = fresh_daemon(config=json.dumps({"authorization-plugins": ["nosuchauthz"]}), start=False)
    d.start(wait=False)
    assert d.proc.wait(30) != 0
    assert 'failed to validate authorization plugin: plugin "nosuchauthz" not found' in d.read_log()


def test_managed_plugin_names_are_not_legacy_plugins(daemon):
    cli = daemon.cli
    # (nothing listens on port 1: the install fails to reach the registry, on loopback)
    p = cli.run("plugin", "install", "--grant-all-permissions", "127.0.0.1:1/vieux/sshfs", check=False)
    assert p.returncode != 0
    p = cli.run("plugin", "inspect", "vieux/sshfs:latest", check=False)
    assert p.returncode != 0 and 'plugin "vieux/sshfs:latest" not found' in p.stderr
    p = cli.run("plugin", "rm", "vieux/sshfs", check=False)
    assert p.returncode != 0 and 'not found' in p.stderr
    assert cli.run("plugin", "ls", "-q").stdout.strip() == ""


def test_info_lists_plugins(daemon, voldrv, authz_daemon):
    cli = daemon.cli
    cli.run("volume", "create", "-d", "berthtestvol", "infovol")
    plugins = json.loads(cli.run("info", "--format", "{{json .Plugins}}").stdout)
    assert plugins["Volume"] == ["local", "berthtestvol"] and plugins["Authorization"] is None
    plugins = json.loads(authz_daemon.cli.run("info", "--format", "{{json .Plugins}}").stdout)
    assert plugins["Authorization"] == [AUTHZ]


def test_log_driver_plugin(daemon):
    cli = daemon.cli
    p = Plugin(daemon.plugin_dir, "berthtestlog", "--implements", "LogDriver")
    try:
        big = 20000  # longer than a log message: sent in pieces, as dockerd's partial entries
        cid = cli.run("run", "-d", "--log-driver", "berthtestlog", "--log-opt", "k=v", "--name", "plog", "busybox", "sh",
                      "-c", "echo out-line; echo err-line >&2; head -c %d /dev/zero | tr '\\0' a; echo" % big).stdout.strip()
        cli.run("wait", cid)

        def complete():  # the plugin's reader has decoded every record, StopLogging was answered
            ents = [c["body"] for c in p.calls("entry")]
            lines = {e.get("line") for e in ents}
            return (p.calls("LogDriver.StopLogging") and "out-line" in lines and "err-line" in lines and
                    any((e.get("partial_log_metadata") or {}).get("last") for e in ents) and
                    not os.path.exists(p.calls("LogDriver.StartLogging")[0]["body"]["File"]))
        deadline = time.time() + 10
        while time.time() < deadline and not complete():
            time.sleep(0.1)
        start = p.calls("LogDriver.StartLogging")[0]["body"]
        assert start["Info"]["ContainerID"] == cid and start["Info"]["ContainerName"] == "/plog"
        assert start["Info"]["Config"] == {"k": "v"} and start["File"].startswith(daemon.exec_root)
        assert p.calls("LogDriver.StopLogging")[0]["body"]["File"] == start["File"]
        entries = [c["body"] for c in p.calls("entry")]
        whole = [(e["source"], e.get("line")) for e in entries if not e.get("partial")]
        assert ("stdout", "out-line") in whole and ("stderr", "err-line") in whole
        pieces = [e for e in entries if e.get("partial")]
        assert "".join(e["line"] for e in pieces) == "a" * big
        metas = [e["partial_log_metadata"] for e in pieces]
        assert [m.get("ordinal") for m in metas] == list(range(1, len(pieces) + 1))
        assert len({m["id"] for m in metas}) == 1 and metas[-1].get("last") == 1 and not metas[0].get("last")
        assert all(e["time_nano"] > 0 for e in entries)
        assert not os.path.exists(start["File"])  # the FIFO goes with the run
        # docker logs reads the local cache (dual logging)
        assert "out-line" in cli.run("logs", cid).stdout
        # a plugin that refuses StartLogging fails the start, as dockerd
        r = cli.run("run", "--rm", "--log-driver", "berthtestlog", "--log-opt", "fail=1", "busybox", "true", check=False)
        assert r.returncode != 0 and "failed to initialize logging driver: " in r.stderr
        assert "refused by the test plugin" in r.stderr
        r = cli.run("run", "--rm", "--log-driver", "nosuchlogplugin", "busybox", "true", check=False)
        assert r.returncode != 0 and "logger: no log driver named 'nosuchlogplugin' is registered" in r.stderr
        cli.run("rm", cid)
    finally:
        p.cleanup()


@pytest.mark.parametrize("spec", ["spec", "json"])
def test_plugin_found_by_spec_file_over_tcp(daemon, spec):
    cli = daemon.cli
    name = "berthtcp" + spec
    p = Plugin(daemon.plugin_dir, name, "--implements", "VolumeDriver", spec=spec)
    try:
        cli.run("volume", "create", "-d", name, "tcpvol" + spec)
        assert p.calls("VolumeDriver.Create")[0]["body"]["Name"] == "tcpvol" + spec
        out = cli.run("run", "--rm", "-v", "tcpvol%s:/data" % spec, "busybox", "sh", "-c",
                      "echo over-tcp > /data/f; cat /data/f").stdout
        assert out == "over-tcp\n"
        assert len(p.calls("VolumeDriver.Mount")) == 1 and len(unmounts_reach(p, 1)) == 1
        cli.run("volume", "rm", "tcpvol" + spec)
    finally:
        p.cleanup()


def test_network_and_ipam_plugins_that_do_not_answer_create_nothing(daemon):
    """fake_plugin.py says it implements NetworkDriver and IpamDriver but answers their
    methods 404: the create fails with the call's error (test_network_plugins.py has a
    plugin that does speak them)."""
    cli = daemon.cli
    p = Plugin(daemon.plugin_dir, "berthtestnet", "--implements", "NetworkDriver,IpamDriver")
    try:
        r = cli.run("network", "create", "-d", "berthtestnet", "pnet", check=False)
        assert r.returncode != 0 and "NetworkDriver.GetCapabilities" in r.stderr
        r = cli.run("network", "create", "--ipam-driver", "berthtestnet", "pnet", check=False)
        assert r.returncode != 0 and "IpamDriver.GetDefaultAddressSpaces" in r.stderr
        r = cli.run("network", "create", "-d", "nosuchnetplugin", "pnet", check=False)
        assert r.returncode != 0 and 'plugin "nosuchnetplugin" not found' in r.stderr
        assert "pnet" not in cli.run("network", "ls", "--format", "{{.Name}}").stdout.split()
    finally:
        p.cleanup()


def test_prune_takes_unused_plugin_volumes(daemon, voldrv):
    cli = daemon.cli
    cli.run("volume", "create", "-d", "berthtestvol", "prunenamed")
    cli.run("volume", "create", "-d", "berthtestvol", "pruneused")
    user = cli.run("create", "-v", "pruneused:/data", "busybox", "true").stdout.strip()
    anon = cli.run("create", "--volume-driver", "berthtestvol", "-v", "/data", "busybox", "true").stdout.strip()
    cli.run("start", "-a", anon)
    anon_name = json.loads(cli.run("inspect", anon).stdout)[0]["Mounts"][0]["Name"]
    assert json.loads(cli.run("volume", "inspect", anon_name).stdout)[0]["Labels"] == {"com.docker.volume.anonymous": ""}
    cli.run("rm", anon)
    out = cli.run("volume", "prune", "-f").stdout
    assert anon_name in out and "prunenamed" not in out
    out = cli.run("volume", "prune", "-af").stdout
    assert "prunenamed" in out and "pruneused" not in out
    removed = {c["body"]["Name"] for c in voldrv.calls("VolumeDriver.Remove")}
    assert removed == {anon_name, "prunenamed"}
    assert "pruneused" in cli.run("volume", "ls", "-q").stdout.split()
    cli.run("rm", user)


def test_docker_logs_through_read_logs(daemon):
    cli = daemon.cli
    p = Plugin(daemon.plugin_dir, "berthtestrl", "--implements", "LogDriver", "--readlogs")
    try:
        cid = cli.run("run", "-d", "--log-driver", "berthtestrl", "busybox", "sh", "-c",
                      "echo one; echo two >&2; echo three").stdout.strip()
        cli.run("wait", cid)
        deadline = time.time() + 10
        while time.time() < deadline and len(p.calls("entry")) < 3:
            time.sleep(0.1)
        r = cli.run("logs", cid)
        assert r.stdout == "from-plugin one\nfrom-plugin three\n" and r.stderr == "from-plugin two\n"
        r = cli.run("logs", "--tail", "1", cid)  # the plugin's last entry, whichever stream it is
        assert (r.stdout + r.stderr).count("from-plugin") == 1
        rl = p.calls("LogDriver.ReadLogs")[-1]["body"]
        assert rl["Config"]["Tail"] == 1 and rl["Config"]["Follow"] is False and rl["Info"]["ContainerID"] == cid
        assert "from-plugin" in cli.run("logs", "-t", cid).stdout
        cli.run("rm", cid)
    finally:
        p.cleanup()


def _raw(sock, method, path, body=None, headers=()):
    import socket as so
    s = so.socket(so.AF_UNIX)
    s.connect(sock)
    data = json.dumps(body).encode() if body is not None else b""
    head = "%s %s HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n" % (method, path)
    if body is not None:
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    s.sendall(head.encode() + b"\r\n" + data)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return int(out.split(b" ", 2)[1])


def test_authz_sees_what_dockerd_shows_it(authz_daemon):
    import base64
    d, plugin = authz_daemon, authz_daemon.plugin
    body = {"Image": "nosuchimage-authz", "Cmd": ["true"]}
    status = _raw(d.sock, "POST", "/v1.45/containers/create?name=seen", body,
                  [("Authorization", "Bearer secret"), ("X-Registry-Auth", "secret2"), ("X-Custom", "kept")])
    assert status == 404  # the handler ran: allowed
    req = [c["body"] for c in plugin.calls("AuthZPlugin.AuthZReq") if "name=seen" in c["body"]["RequestUri"]][0]
    assert req["RequestUri"] == "/v1.45/containers/create?name=seen" and req["RequestMethod"] == "POST"
    assert json.loads(base64.b64decode(req["RequestBody"])) == body
    hdrs = req["RequestHeaders"]
    assert hdrs["X-Custom"] == "kept" and "Authorization" not in hdrs and "X-Registry-Auth" not in hdrs
    res = [c["body"] for c in plugin.calls("AuthZPlugin.AuthZRes") if "name=seen" in c["body"]["RequestUri"]][0]
    assert res["ResponseStatusCode"] == 404 and "No such image" in base64.b64decode(res["ResponseBody"]).decode()
    # never the body of /auth (credentials), nor a body that is not JSON
    _raw(d.sock, "POST", "/v1.45/auth", {"username": "u", "password": "p", "serveraddress": "127.0.0.1:9"})
    auth = [c["body"] for c in plugin.calls("AuthZPlugin.AuthZReq") if c["body"]["RequestUri"] == "/v1.45/auth"][0]
    assert "RequestBody" not in auth


def test_authz_plugins_reload_on_sighup(fresh_daemon):
    d = fresh_daemon()
    p = Plugin(os.path.join(d.exec_root, "plugins"), AUTHZ, "--implements", "authz", "--deny-res", "/images/json")
    cli = DockerCLI(d.host)
    try:
        cli.run("images")

        def reload(cfg):
            with open(d.config_file, "w") as f:
                json.dump(cfg, f)
            mark = len(d.read_log())
            d.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 15
            while time.time() < deadline:
                tail = d.read_log()[mark:]
                if "Reloaded configuration" in tail or "Error reconfiguring" in tail:
                    return tail
                time.sleep(0.05)
            raise AssertionError("no reload: " + d.read_log()[mark:])

        reload({"authorization-plugins": [AUTHZ]})
        r = cli.run("images", check=False)
        assert r.returncode != 0 and "authorization denied by plugin %s: response withheld" % AUTHZ in r.stderr
        assert json.loads(cli.run("info", "--format", "{{json .Plugins.Authorization}}").stdout) == [AUTHZ]
        # a plugin that is not there: the reload fails and the chain stays
        tail = reload({"authorization-plugins": ["nosuchauthz"]})
        assert 'failed to validate authorization plugin: plugin \\"nosuchauthz\\" not found' in tail
        assert cli.run("images", check=False).returncode != 0
        reload({})
        cli.run("images")
    finally:
        cli.cleanup()
        p.cleanup()
