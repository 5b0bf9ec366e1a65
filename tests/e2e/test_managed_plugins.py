"""Managed plugins (`docker plugin create/enable/disable/inspect/ls/set/rm`), as a user runs
them with the stock docker CLI: a volume-driver plugin the test builds (the busybox
fixture's files as its rootfs plus tests/e2e/plugins/vol_driver.c compiled with
`gcc -static`), run by berthd as a container with its socket directory at
/run/docker/plugins, used through `docker volume create -d` and a container, kept enabled
across a berthd restart. Hostile plugin archives are refused with nothing left behind."""
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import TESTDATA, Berthd, DockerCLI
from registry import FrontProxy, Registry

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER_SRC = os.path.join(HERE, "plugins", "vol_driver.c")

CONFIG = {
    "Description": "berth test volume driver",
    "Documentation": "https://example.invalid/berth",
    "Entrypoint": ["/vd", "/run/docker/plugins/vd.sock"],
    "Interface": {"Types": ["docker.volumedriver/1.0"], "Socket": "vd.sock"},
    "Network": {"Type": ""},
    "Env": [
        {"Name": "GREETING", "Description": "what new volumes say", "Settable": ["value"], "Value": "hello"},
        {"Name": "FIXED", "Description": "not settable", "Settable": [], "Value": "x"},
    ],
    "Args": {"Name": "args", "Description": "extra arguments", "Settable": ["value"], "Value": []},
    "Linux": {"Capabilities": []},
}


@pytest.fixture(scope="module")
def daemon():
    d = Berthd().start()
    cli = DockerCLI(d.host)
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    d.cli = cli
    yield d
    for p in cli.run("plugin", "ls", "-q", check=False).stdout.split():
        cli.run("plugin", "rm", "-f", p, check=False)
    cli.cleanup()
    d.cleanup()


@pytest.fixture(scope="module")
def plugin_dir(daemon, tmp_path_factory):
    """A plugin directory as `docker plugin create` takes it: config.json and rootfs/."""
    base = tmp_path_factory.mktemp("plugin")
    rootfs = base / "rootfs"
    rootfs.mkdir()
    cid = daemon.cli.run("create", "busybox", "true").stdout.strip()
    tar_path = base / "busybox.tar"
    with open(tar_path, "wb") as f:
        subprocess.run(["docker", "export", cid], stdout=f, check=True,
                       env={**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": daemon.cli.config_dir})
    daemon.cli.run("rm", cid)
    subprocess.run(["tar", "-xf", str(tar_path), "-C", str(rootfs)], check=True)
    tar_path.unlink()
    subprocess.run(["gcc", "-static", "-O2", "-D_GNU_SOURCE", "-o", str(rootfs / "vd"), DRIVER_SRC], check=True)
    with open(base / "config.json", "w") as f:
        json.dump(CONFIG, f)
    return base


def plugin_host_root(daemon, name):
    pid = json.loads(daemon.cli.run("plugin", "inspect", name).stdout)[0]["Id"]
    return os.path.join(daemon.data_root, "plugins", pid, "rootfs")


def calls(daemon, name):
    try:
        with open(os.path.join(plugin_host_root(daemon, name), "data", "calls.log")) as f:
            return [line.split() for line in f]
    except FileNotFoundError:
        return []


def plugin_entries(daemon):
    d = os.path.join(daemon.data_root, "plugins")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_create_ls_inspect_set_enable_use_disable_rm(daemon, plugin_dir):
    cli = daemon.cli
    since = str(int(time.time()) - 1)
    cli.run("plugin", "create", "berthvd", str(plugin_dir))
    ls = cli.run("plugin", "ls", "--format", "{{.Name}} {{.Enabled}} {{.Description}}").stdout.splitlines()
    assert ls == ["berthvd:latest false berth test volume driver"]
    info = json.loads(cli.run("plugin", "inspect", "berthvd").stdout)[0]
    assert info["Name"] == "berthvd:latest" and info["Enabled"] is False and len(info["Id"]) == 64
    assert info["Config"]["Interface"]["Socket"] == "vd.sock"
    assert info["Config"]["Entrypoint"] == CONFIG["Entrypoint"]
    assert info["Settings"]["Env"] == ["GREETING=hello", "FIXED=x"]
    assert info["Settings"]["Args"] == [] and info["Settings"]["Mounts"] == [] and info["Settings"]["Devices"] == []
    # the same plugin by ID prefix
    assert json.loads(cli.run("plugin", "inspect", info["Id"][:12]).stdout)[0]["Name"] == "berthvd:latest"

    # a second plugin of that name: dockerd's conflict
    p = cli.run("plugin", "create", "berthvd", str(plugin_dir), check=False)
    assert p.returncode != 0 and "plugin berthvd:latest already exists" in p.stderr

    # set: only what is settable, with dockerd's messages
    p = cli.run("plugin", "set", "berthvd", "FIXED=y", check=False)
    assert p.returncode != 0 and '"FIXED" is not settable' in p.stderr
    p = cli.run("plugin", "set", "berthvd", "NOPE=1", check=False)
    assert p.returncode != 0 and 'setting "NOPE" not found in the plugin configuration' in p.stderr
    cli.run("plugin", "set", "berthvd", "GREETING=bonjour", "args=-x -y")
    info = json.loads(cli.run("plugin", "inspect", "berthvd").stdout)[0]
    assert info["Settings"]["Env"] == ["GREETING=bonjour", "FIXED=x"]
    assert info["Settings"]["Args"] == ["-x", "-y"]

    # a volume through a disabled plugin is refused
    p = cli.run("volume", "create", "-d", "berthvd", "mv0", check=False)
    assert p.returncode != 0

    cli.run("plugin", "enable", "berthvd")
    assert cli.run("plugin", "ls", "--format", "{{.Enabled}}").stdout.split() == ["true"]
    # dockerd's two filters
    assert cli.run("plugin", "ls", "-q", "--filter", "enabled=true").stdout.split() == [info["Id"][:12]]
    assert cli.run("plugin", "ls", "-q", "--filter", "enabled=false").stdout.split() == []
    assert cli.run("plugin", "ls", "-q", "--filter", "capability=volumedriver").stdout.split() == [info["Id"][:12]]
    assert cli.run("plugin", "ls", "-q", "--filter", "capability=authz").stdout.split() == []
    p = cli.run("plugin", "ls", "--filter", "color=red", check=False)
    assert p.returncode != 0 and "invalid filter 'color'" in p.stderr
    p = cli.run("plugin", "set", "berthvd", "GREETING=x", check=False)
    assert p.returncode != 0 and "cannot set on an active plugin, disable plugin before setting" in p.stderr
    p = cli.run("plugin", "enable", "berthvd", check=False)
    assert p.returncode != 0 and "already enabled" in p.stderr
    # the args reached the plugin's process
    with open(os.path.join(plugin_host_root(daemon, "berthvd"), "data", "args")) as f:
        assert f.read() == "-x -y"
    # docker info lists it among the volume plugins
    vols = json.loads(cli.run("info", "--format", "{{json .Plugins.Volume}}").stdout)
    assert "berthvd:latest" in vols

    # a volume of the plugin used by a container
    cli.run("volume", "create", "-d", "berthvd", "mv1")
    v = json.loads(cli.run("volume", "inspect", "mv1").stdout)[0]
    assert v["Driver"] == "berthvd:latest"
    out = cli.run("run", "--rm", "-v", "mv1:/m", "busybox", "sh", "-c", "cat /m/greeting; echo data > /m/f").stdout
    assert out == "bonjour"
    with open(os.path.join(plugin_host_root(daemon, "berthvd"), "data", "mv1", "f")) as f:
        assert f.read() == "data\n"
    methods = [c[0] for c in calls(daemon, "berthvd") if c[1] == "mv1"]
    assert "VolumeDriver.Create" in methods and "VolumeDriver.Mount" in methods and "VolumeDriver.Unmount" in methods
    assert "mv1" in cli.run("volume", "ls", "-q").stdout.split()

    # in use: disable and rm refuse without force
    p = cli.run("plugin", "disable", "berthvd", check=False)
    assert p.returncode != 0 and "plugin berthvd:latest is in use" in p.stderr
    p = cli.run("plugin", "rm", "berthvd", check=False)
    assert p.returncode != 0 and "is in use" in p.stderr
    cli.run("volume", "rm", "mv1")
    p = cli.run("plugin", "rm", "berthvd", check=False)
    assert p.returncode != 0 and "plugin berthvd:latest is enabled" in p.stderr

    cli.run("plugin", "disable", "berthvd")
    assert cli.run("plugin", "ls", "--format", "{{.Enabled}}").stdout.split() == ["false"]
    p = cli.run("volume", "create", "-d", "berthvd", "mv2", check=False)
    assert p.returncode != 0 and "found but disabled" in p.stderr
    # its container is gone: nothing answers on the socket any more
    sock_dirs = os.listdir(os.path.join(daemon.exec_root, "mp")) if os.path.isdir(os.path.join(daemon.exec_root, "mp")) else []
    assert sock_dirs == []

    cli.run("plugin", "rm", "berthvd")
    assert cli.run("plugin", "ls", "-q").stdout.split() == []
    assert plugin_entries(daemon) == []
    p = cli.run("plugin", "inspect", "berthvd", check=False)
    assert p.returncode != 0 and 'plugin "berthvd" not found' in p.stderr
    # dockerd's plugin events, by type
    events = cli.run("events", "--since", since, "--until", str(int(time.time()) + 1), "--filter", "type=plugin",
                     "--format", "{{.Action}} {{.Actor.Attributes.name}}").stdout.splitlines()
    assert events == ["create berthvd:latest", "enable berthvd:latest", "disable berthvd:latest",
                      "remove berthvd:latest"]


def test_enabled_plugin_survives_restart_and_rm_force(daemon, plugin_dir):
    cli = daemon.cli
    cli.run("plugin", "create", "berthvd2:v1", str(plugin_dir))
    cli.run("plugin", "enable", "berthvd2:v1")
    cli.run("volume", "create", "-d", "berthvd2:v1", "rv1")
    daemon.stop()
    daemon.start()
    assert cli.run("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}").stdout.split() == ["berthvd2:v1", "true"]
    out = cli.run("run", "--rm", "-v", "rv1:/m", "busybox", "cat", "/m/greeting").stdout
    assert out == "hello"
    # a berthd killed hard (here as if in the middle of an install): the plugin is taken
    # back too, and what the install had half made is gone
    daemon.stop(sig=9)
    half = os.path.join(daemon.data_root, "plugins", ".tmp-0123456789abcdef01234567")
    os.makedirs(os.path.join(half, "rootfs", "bin"))
    with open(os.path.join(half, "config.json"), "w") as f:
        f.write('{"Name": "half:latest"')
    daemon.start()
    assert not os.path.exists(half)
    assert cli.run("plugin", "ls", "--format", "{{.Name}}").stdout.split() == ["berthvd2:v1"]
    out = cli.run("run", "--rm", "-v", "rv1:/m", "busybox", "cat", "/m/greeting").stdout
    assert out == "hello"
    # the plugin's process killed: berthd starts it again, as dockerd does
    pid_file = os.path.join(daemon.exec_root, "plugin-bundles",
                            json.loads(cli.run("plugin", "inspect", "berthvd2:v1").stdout)[0]["Id"], "init.pid")
    with open(pid_file) as f:
        old_pid = int(f.read())
    os.kill(old_pid, 9)
    deadline = time.time() + 20
    new_pid = old_pid
    while time.time() < deadline:
        try:
            with open(pid_file) as f:
                new_pid = int(f.read() or 0)
        except (FileNotFoundError, ValueError):
            pass
        if new_pid not in (0, old_pid):
            break
        time.sleep(0.1)
    assert new_pid not in (0, old_pid)
    out = cli.run("run", "--rm", "-v", "rv1:/m", "busybox", "cat", "/m/greeting").stdout
    assert out == "hello"
    assert cli.run("plugin", "ls", "--format", "{{.Enabled}}").stdout.split() == ["true"]
    assert "exited; starting it again" in daemon.read_log()
    cli.run("volume", "rm", "rv1")
    cli.run("plugin", "rm", "-f", "berthvd2:v1")
    assert cli.run("plugin", "ls", "-q").stdout.split() == []
    assert plugin_entries(daemon) == []


@pytest.fixture(scope="module")
def registry():
    reg = Registry().start()
    yield reg
    reg.cleanup()


def test_push_rm_install_from_registry(daemon, plugin_dir, registry):
    cli = daemon.cli
    ref = "%s/berth/vd:1.0" % registry.host
    cli.run("plugin", "create", ref, str(plugin_dir))
    cli.run("plugin", "push", ref)
    # what the registry holds: a schema2 manifest whose config is the plugin's
    status, headers, body = registry.request(
        "GET", "/v2/berth/vd/manifests/1.0",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert status == 200, body
    manifest = json.loads(body)
    assert manifest["config"]["mediaType"] == "application/vnd.docker.plugin.v1+json"
    assert [l["mediaType"] for l in manifest["layers"]] == ["application/vnd.docker.image.rootfs.diff.tar.gzip"]
    status, _, blob = registry.request("GET", "/v2/berth/vd/blobs/" + manifest["config"]["digest"])
    assert status == 200 and json.loads(blob)["Interface"]["Socket"] == "vd.sock"
    cli.run("plugin", "rm", ref)
    assert plugin_entries(daemon) == []

    # privileges: none for this plugin
    import urllib.parse
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(daemon.sock)

    c = Conn("localhost", timeout=30)
    c.request("GET", "/v1.45/plugins/privileges?remote=" + urllib.parse.quote(ref))
    r = c.getresponse()
    assert r.status == 200 and json.loads(r.read()) == []
    c.close()

    # install under another name, enabled, and used
    cli.run("plugin", "install", "--grant-all-permissions", "--alias", "vdalias", ref, "GREETING=installed")
    info = json.loads(cli.run("plugin", "inspect", "vdalias").stdout)[0]
    assert info["Name"] == "vdalias:latest" and info["Enabled"] is True
    assert info["PluginReference"] == ref
    assert "GREETING=installed" in info["Settings"]["Env"]
    p = cli.run("plugin", "install", "--grant-all-permissions", "--alias", "vdalias", ref, check=False)
    assert p.returncode != 0 and "plugin vdalias:latest already exists" in p.stderr
    cli.run("volume", "create", "-d", "vdalias", "iv1")
    assert cli.run("run", "--rm", "-v", "iv1:/m", "busybox", "cat", "/m/greeting").stdout == "installed"
    cli.run("volume", "rm", "iv1")

    # upgrade needs the plugin disabled, then keeps its name and settings
    p = cli.run("plugin", "upgrade", "--grant-all-permissions", "vdalias", ref, check=False)
    assert p.returncode != 0 and "disabled before upgrading" in p.stderr
    cli.run("plugin", "disable", "vdalias")
    cli.run("plugin", "upgrade", "--grant-all-permissions", "--skip-remote-check", "vdalias", ref)
    cli.run("plugin", "enable", "vdalias")
    cli.run("plugin", "rm", "-f", "vdalias")

    # a name that is not on the registry: the registry's error, nothing left behind
    p = cli.run("plugin", "install", "--grant-all-permissions", "%s/berth/none:1" % registry.host, check=False)
    assert p.returncode != 0 and "manifest unknown" in p.stderr.lower()
    # an image is not a plugin
    img = "%s/berth/busybox:1" % registry.host
    cli.run("tag", "busybox", img)
    cli.run("push", img)
    p = cli.run("plugin", "install", "--grant-all-permissions", img, check=False)
    assert p.returncode != 0 and "did not find plugin config for specified reference" in p.stderr
    cli.run("rmi", img)
    assert plugin_entries(daemon) == []
    assert cli.run("plugin", "ls", "-q").stdout.split() == []


def test_install_cut_short_or_corrupt_leaves_nothing(daemon, plugin_dir, registry):
    cli = daemon.cli
    proxy = FrontProxy(registry.port).start()
    try:
        ref = "127.0.0.1:%d/berth/cut:1" % proxy.port
        cli.run("plugin", "create", ref, str(plugin_dir))
        cli.run("plugin", "push", ref)
        cli.run("plugin", "rm", ref)
        _, _, body = registry.request("GET", "/v2/berth/cut/manifests/1",
                                      headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        layer = json.loads(body)["layers"][0]["digest"]

        # a layer that is not what the manifest says
        proxy.corrupt_blob = layer
        p = cli.run("plugin", "install", "--grant-all-permissions", ref, check=False)
        assert p.returncode != 0 and "digest mismatch" in p.stdout + p.stderr
        assert plugin_entries(daemon) == []
        proxy.corrupt_blob = None

        # berthd killed while the layer downloads: the half-made plugin is gone at start
        def kill_daemon(digest, handler):
            if digest == layer:
                daemon.proc.kill()
                daemon.proc.wait()
                return False
            return None
        proxy.on_blob = kill_daemon
        p = cli.run("plugin", "install", "--grant-all-permissions", ref, check=False)
        assert p.returncode != 0
        proxy.on_blob = None
        assert [e for e in plugin_entries(daemon) if e.startswith(".tmp-")]  # the kill came mid-install
        daemon.stop()
        daemon.start()
        assert plugin_entries(daemon) == []
        assert cli.run("plugin", "ls", "-q").stdout.split() == []
        # and the same install now works
        cli.run("plugin", "install", "--grant-all-permissions", "--disable", ref)
        assert cli.run("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}").stdout.split() == [ref, "false"]
        cli.run("plugin", "rm", ref)
    finally:
        proxy.stop()


def test_propagated_mount_capabilities_and_a_settable_mount(daemon, plugin_dir, tmp_path):
    """A plugin whose volumes live under its PropagatedMount, with an added capability and a
    host directory mounted where `docker plugin set` points it."""
    cli = daemon.cli
    pdir = tmp_path / "p2"
    shutil.copytree(plugin_dir, pdir, symlinks=True)
    cfg = dict(CONFIG)
    cfg["PropagatedMount"] = "/data"
    cfg["Linux"] = {"Capabilities": ["CAP_SYS_ADMIN"]}
    cfg["Mounts"] = [{"Name": "hostdir", "Description": "", "Settable": ["source"], "Source": "/nonexistent",
                      "Destination": "/hostdir", "Type": "bind", "Options": ["rbind", "rw"]}]
    with open(pdir / "config.json", "w") as f:
        json.dump(cfg, f)
    hostdir = tmp_path / "hostdir"
    hostdir.mkdir()
    cli.run("plugin", "create", "propvd", str(pdir))
    cli.run("plugin", "set", "propvd", "hostdir.source=%s" % hostdir)
    info = json.loads(cli.run("plugin", "inspect", "propvd").stdout)[0]
    assert info["Settings"]["Mounts"][0]["Source"] == str(hostdir)
    cli.run("plugin", "enable", "propvd")
    try:
        assert (hostdir / "touched").read_text() == "plugin was here\n"
        prop = os.path.join(daemon.data_root, "plugins", info["Id"], "propagated-mount")
        with open(os.path.join(prop, "status")) as f:
            capeff = int([l for l in f if l.startswith("CapEff:")][0].split()[1], 16)
        assert capeff & (1 << 21)  # CAP_SYS_ADMIN
        cli.run("volume", "create", "-d", "propvd", "pv1")
        assert json.loads(cli.run("volume", "inspect", "pv1").stdout)[0]["Mountpoint"] == os.path.join(prop, "pv1")
        assert cli.run("run", "--rm", "-v", "pv1:/m", "busybox", "cat", "/m/greeting").stdout == "hello"
        cli.run("volume", "rm", "pv1")
    finally:
        cli.run("plugin", "rm", "-f", "propvd")
    assert plugin_entries(daemon) == []


def test_managed_log_driver_plugin(daemon, plugin_dir, tmp_path):
    """--log-driver NAME through an enabled managed plugin: the FIFO is made in the plugin's
    own /run/docker/logging and named by that path, as dockerd does."""
    cli = daemon.cli
    pdir = tmp_path / "logp"
    shutil.copytree(plugin_dir, pdir, symlinks=True)
    cfg = dict(CONFIG)
    cfg["Interface"] = {"Types": ["docker.logdriver/1.0"], "Socket": "vd.sock"}
    with open(pdir / "config.json", "w") as f:
        json.dump(cfg, f)
    cli.run("plugin", "create", "berthlog", str(pdir))
    cli.run("plugin", "enable", "berthlog")
    try:
        cid = cli.run("run", "-d", "--log-driver", "berthlog", "busybox", "sh", "-c",
                      "echo hello-from-container; sleep 0.5").stdout.strip()
        cli.run("wait", cid)
        log = os.path.join(plugin_host_root(daemon, "berthlog"), "data", cid + ".log")
        deadline = time.time() + 10
        data = b""
        while time.time() < deadline and b"hello-from-container" not in data:
            try:
                with open(log, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                pass
            time.sleep(0.1)
        assert b"hello-from-container" in data
        cli.run("rm", cid)
        # the FIFO went with the container
        assert not os.path.exists(os.path.join(plugin_host_root(daemon, "berthlog"), "run", "docker", "logging", cid))
    finally:
        cli.run("plugin", "rm", "-f", "berthlog")


def test_managed_authz_plugin_named_at_start(plugin_dir, tmp_path):
    """--authorization-plugin naming a managed plugin: berthd starts its enabled plugins
    before it looks for the authorization plugins (dockerd's order), and the plugin decides."""
    pdir = tmp_path / "authzp"
    shutil.copytree(plugin_dir, pdir, symlinks=True)
    cfg = dict(CONFIG)
    cfg["Interface"] = {"Types": ["docker.authz/1.0"], "Socket": "vd.sock"}
    with open(pdir / "config.json", "w") as f:
        json.dump(cfg, f)
    d = Berthd().start()
    cli = DockerCLI(d.host)
    plain_args = list(d.args)
    try:
        cli.run("plugin", "create", "berthauthz", str(pdir))
        cli.run("plugin", "enable", "berthauthz")
        d.stop()
        d.args = plain_args + ["--authorization-plugin", "berthauthz"]
        d.start()
        cli.run("volume", "create", "allowedvol")
        cli.run("volume", "inspect", "allowedvol")
        # the plugin denies any request whose URI names "denyme"
        p = cli.run("volume", "inspect", "denyme", check=False)
        assert p.returncode != 0 and "authorization denied by plugin berthauthz: no denyme here" in p.stderr
        cli.run("volume", "rm", "allowedvol")
    finally:
        # removed by the daemon started without it (with it configured, as with dockerd,
        # every request after its removal would fail closed); one daemon, one bridge
        d.stop()
        d.args = plain_args
        d.start()
        for pid in cli.run("plugin", "ls", "-q", check=False).stdout.split():
            cli.run("plugin", "rm", "-f", pid, check=False)
        d.cleanup()
        cli.cleanup()


def tar_bytes(entries):
    """A tar of (name, data or None for a directory) entries, names as given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            elif isinstance(data, tuple):  # ("symlink", target)
                ti.type = tarfile.SYMTYPE
                ti.linkname = data[1]
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def post_create(daemon, name, body):
    """POST /plugins/create with a raw tar, as the CLI sends it."""
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(daemon.sock)

    c = Conn("localhost", timeout=30)
    c.request("POST", "/v1.45/plugins/create?name=" + name, body=body, headers={"Content-Type": "application/x-tar"})
    r = c.getresponse()
    out = (r.status, r.read().decode())
    c.close()
    return out


@pytest.mark.parametrize("entries,message", [
    ([("config.json", json.dumps(CONFIG).encode()), ("rootfs/", None), ("../escape", b"x")], None),
    ([("config.json", json.dumps(CONFIG).encode()), ("rootfs/", None), ("rootfs/../../escape", b"x")], None),
    ([("config.json", b"{not json"), ("rootfs/", None)], "failed to parse config"),
    ([("config.json", json.dumps({"Entrypoint": "not-a-list"}).encode()), ("rootfs/", None)],
     "failed to parse config"),
    ([("config.json", b'{"Description": "' + b"x" * (2 << 20) + b'"}'), ("rootfs/", None)], "config.json"),
    ([("rootfs/", None)], "config not found"),
    # links out of the archive are not followed
    ([("config.json", ("symlink", "/etc/hostname")), ("rootfs/", None)], "failed to parse config"),
    ([("config.json", json.dumps(CONFIG).encode()), ("rootfs", ("symlink", "/"))], "no rootfs found"),
    ([("config.json", json.dumps(CONFIG).encode())], "no rootfs found"),
])
def test_hostile_plugin_archives_are_refused_leaving_nothing(daemon, entries, message):
    before = plugin_entries(daemon)
    status, body = post_create(daemon, "hostile", tar_bytes(entries))
    assert status in (400, 413, 500), body
    if message:
        assert message in json.loads(body)["message"]
    assert plugin_entries(daemon) == before
    assert not os.path.exists(os.path.join(daemon.data_root, "escape"))
    assert not os.path.exists(os.path.join(daemon.data_root, "plugins", "escape"))
    assert daemon.cli.run("plugin", "ls", "-q").stdout.split() == []


def test_unknown_plugin_is_not_found(daemon):
    cli = daemon.cli
    for args in (["inspect", "nope"], ["enable", "nope"], ["disable", "nope"], ["rm", "nope"], ["set", "nope", "A=b"]):
        p = cli.run("plugin", *args, check=False)
        assert p.returncode != 0 and 'plugin "nope" not found' in p.stderr, args
