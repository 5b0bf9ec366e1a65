"""Images as users see them: docker load/save/import/images/inspect/history/tag/rmi/prune and
system df with the stock CLI and docker-py, checked against what the reference engine
answered for the same fixtures (tests/fixtures/api-1.41).

The tests here share one berthd of their own (module scope), so that the session daemon
other modules check (`docker info` shows 0 images) is never touched. Each test starts from
an empty store (the `store` fixture removes every image first)."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest

from conftest import TESTDATA, Berthd, DockerCLI, docker_env

FIX = os.path.join(TESTDATA, "fixtures")
BUSYBOX_TAR = os.path.join(FIX, "busybox-docker-archive.tar")
LAYERED_TAR = os.path.join(FIX, "layered-docker-archive.tar")
BUSYBOX_OCI = os.path.join(FIX, "busybox-oci-layout.tar")
BUSYBOX_ID = "sha256:1753f6f850bd793fb12d6eb8f3c47c9b91eefa519a95aeaf492d02ac5fc14ef5"
LAYERED_ID = "sha256:98f2b9df14be82434877634cf433aaa092a6212299ac028eafa7e21738450bb1"
LAYERED_CHAIN = [  # chain IDs of layered's layers, top first, as rmi reports them
    "sha256:31f9b320c47862af12c3c97f7ca7710ef4165f562695e0e23f331286f50e47cf",
    "sha256:0b8625bc43720db8b79a4990944ae5a30b48e88c23b7a5f2d4574a83d6e99dbb",
    "sha256:3be376e228c9f11cdb8aeae0776cac3191907e5d893faae07e12fe9b0c832002",
]


def fixture_json(name):
    with open(os.path.join(FIX, "api-1.41", name)) as f:
        return json.load(f)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def api(daemon, method, path, body=None, headers=None):
    """One request; returns (status, headers, body bytes)."""
    c = UnixHTTPConnection(daemon.sock)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def api_json(daemon, method, path, **kw):
    status, headers, body = api(daemon, method, path, **kw)
    return status, json.loads(body) if body else None


@pytest.fixture(scope="module")
def idaemon():
    d = Berthd().start()
    yield d
    d.cleanup()


@pytest.fixture(scope="module")
def icli(idaemon):
    cli = DockerCLI(idaemon.host)
    yield cli
    cli.cleanup()


@pytest.fixture
def store(idaemon, icli):
    """An empty image store on the module's daemon."""
    ids = icli.run("images", "-a", "-q", "--no-trunc").stdout.split()
    if ids:
        icli.run("rmi", "-f", *sorted(set(ids)))
    assert icli.run("images", "-a", "-q").stdout == ""
    return icli


def load(cli, path):
    return cli.run("load", "-i", path).stdout


def docker_stdin(cli, args, data, check=True):
    p = subprocess.run(["docker", *args], input=data, capture_output=True,
                       env=docker_env(cli.host, cli.config_dir), timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("docker %s: %s" % (" ".join(args), p.stderr.decode()))
    return p


def image_id(cli, name):
    return cli.run("image", "inspect", "--format", "{{.Id}}", name).stdout.strip()


# ---- load ---------------------------------------------------------------------------


def test_load_prints_loaded_image_and_gives_the_reference_ids(store):
    assert load(store, BUSYBOX_TAR) == "Loaded image: busybox:latest\n"
    assert load(store, LAYERED_TAR) == "Loaded image: layered:latest\n"
    assert image_id(store, "busybox") == BUSYBOX_ID
    assert image_id(store, "layered:latest") == LAYERED_ID
    # Loading again changes nothing and says the same.
    assert load(store, BUSYBOX_TAR) == "Loaded image: busybox:latest\n"
    assert len(store.run("images", "-q").stdout.split()) == 2


def test_load_from_stdin_and_oci_layout(store):
    with open(LAYERED_TAR, "rb") as f:
        p = docker_stdin(store, ["load"], f.read())
    assert p.stdout.decode() == "Loaded image: layered:latest\n"
    with open(BUSYBOX_OCI, "rb") as f:
        p = docker_stdin(store, ["load"], f.read())
    assert re.fullmatch(r"Loaded image ID: sha256:3e19711d[0-9a-f]{56}\n", p.stdout.decode())
    assert image_id(store, "layered") == LAYERED_ID


def test_load_of_garbage_fails_with_a_message_and_leaves_nothing(store, idaemon):
    p = docker_stdin(store, ["load"], b"this is not a tar archive" * 100, check=False)
    assert p.returncode != 0
    assert b"invalid image archive" in p.stderr or b"archive" in p.stderr
    assert store.run("images", "-a", "-q").stdout == ""
    assert os.listdir(os.path.join(idaemon.data_root, "tmp")) == []


def test_load_response_is_a_json_message_stream(store, idaemon):
    with open(BUSYBOX_TAR, "rb") as f:
        status, headers, body = api(idaemon, "POST", "/v1.45/images/load?quiet=1", body=f.read(),
                                    headers={"Content-Type": "application/x-tar"})
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == b'{"stream":"Loaded image: busybox:latest\\n"}\r\n'
    status, headers, body = api(idaemon, "POST", "/v1.45/images/load", body=b"\0" * 10)
    assert status == 200  # as dockerd: the error comes in the stream
    msg = json.loads(body.splitlines()[-1])
    assert msg["error"] == msg["errorDetail"]["message"]


def test_dockerpy_load_list_get_tag_remove(store, idaemon):
    import docker as dockerpy
    c = dockerpy.DockerClient(base_url=idaemon.host, version="auto", timeout=60)
    try:
        with open(LAYERED_TAR, "rb") as f:
            imgs = c.images.load(f.read())
        assert [i.id for i in imgs] == [LAYERED_ID]
        assert imgs[0].tags == ["layered:latest"]
        img = c.images.get("layered")
        assert img.id == LAYERED_ID
        assert img.attrs["Config"]["User"] == "nobody"
        assert img.tag("example.com/team/layered", "v1") is True
        assert sorted(c.images.get(LAYERED_ID[7:19]).tags) == ["example.com/team/layered:v1", "layered:latest"]
        assert [i.id for i in c.images.list()] == [LAYERED_ID]
        assert c.images.list(filters={"dangling": True}) == []
        assert [i.id for i in c.images.list(name="example.com/team/layered")] == [LAYERED_ID]
        c.images.remove("example.com/team/layered:v1")
        assert c.images.get("layered").tags == ["layered:latest"]
        with pytest.raises(dockerpy.errors.ImageNotFound):
            c.images.get("nope")
        with pytest.raises(dockerpy.errors.APIError) as e:
            c.images.get("a:b:c")
        assert e.value.status_code == 400
        assert "invalid reference format" in str(e.value)
        c.images.remove("layered")
        assert c.images.list(all=True) == []
        with pytest.raises(dockerpy.errors.ImageLoadError):
            c.images.load(b"garbage" * 1000)
    finally:
        c.close()


# ---- images -------------------------------------------------------------------------


def test_docker_images_table_formats_and_flags(store):
    load(store, BUSYBOX_TAR)
    load(store, LAYERED_TAR)
    lines = store.run("images").stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    rows = [l.split() for l in lines[1:]]
    assert [r[:3] for r in rows] == [["layered", "latest", LAYERED_ID[7:19]], ["busybox", "latest", BUSYBOX_ID[7:19]]]
    assert [r[-1] for r in rows] == ["1.99MB", "1.99MB"]
    out = store.run("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}").stdout
    assert out == "layered:latest %s 1.99MB\nbusybox:latest %s 1.99MB\n" % (LAYERED_ID[7:19], BUSYBOX_ID[7:19])
    assert store.run("images", "-q").stdout.split() == [LAYERED_ID[7:19], BUSYBOX_ID[7:19]]
    assert store.run("images", "-q", "--no-trunc").stdout.split() == [LAYERED_ID, BUSYBOX_ID]
    dig = store.run("images", "--digests").stdout.splitlines()
    assert dig[0].split()[:4] == ["REPOSITORY", "TAG", "DIGEST", "IMAGE"]
    assert dig[1].split()[2] == "<none>"
    assert store.run("image", "ls", "busybox", "-q").stdout.split() == [BUSYBOX_ID[7:19]]


def test_docker_images_filters(store):
    load(store, BUSYBOX_TAR)
    load(store, LAYERED_TAR)
    q = lambda *f: store.run("images", "-q", *[x for k in f for x in ("--filter", k)]).stdout.split()
    assert q("label=org.example.berth.fixture=layered") == [LAYERED_ID[7:19]]
    assert q("label=org.example.berth.note") == [LAYERED_ID[7:19]]
    assert q("label=nope") == []
    assert q("reference=busy*") == [BUSYBOX_ID[7:19]]
    assert q("reference=*:latest") == [LAYERED_ID[7:19], BUSYBOX_ID[7:19]]
    assert q("before=layered") == [BUSYBOX_ID[7:19]]
    assert q("since=busybox") == [LAYERED_ID[7:19]]
    assert q("dangling=true") == []
    assert q("dangling=false") == [LAYERED_ID[7:19], BUSYBOX_ID[7:19]]
    p = store.run("images", "--filter", "color=red", check=False)
    assert p.returncode != 0 and "invalid filter 'color'" in p.stderr
    p = store.run("images", "--filter", "since=nope", check=False)
    assert p.returncode != 0 and "No such image: nope" in p.stderr


def test_dangling_image_shows_as_none(store, idaemon):
    load(store, BUSYBOX_OCI)  # no name: dangling
    dangling_id = store.run("images", "-q", "--no-trunc").stdout.strip()
    rows = [l.split() for l in store.run("images").stdout.splitlines()[1:]]
    assert rows[0][:3] == ["<none>", "<none>", dangling_id[7:19]]
    assert store.run("images", "-q", "-f", "dangling=true").stdout.split() == [dangling_id[7:19]]
    # The placeholders belong to old API versions only.
    _, old = api_json(idaemon, "GET", "/v1.41/images/json")
    assert old[0]["RepoTags"] == ["<none>:<none>"] and old[0]["RepoDigests"] == ["<none>@<none>"]
    _, new = api_json(idaemon, "GET", "/v1.45/images/json")
    assert new[0]["RepoTags"] == [] and new[0]["RepoDigests"] == []
    assert "VirtualSize" not in new[0] and old[0]["VirtualSize"] == old[0]["Size"]


def test_images_json_shape_matches_reference_engine(store, idaemon):
    load(store, BUSYBOX_TAR)
    load(store, LAYERED_TAR)
    want = fixture_json("images.json")
    status, got = api_json(idaemon, "GET", "/v1.41/images/json")
    assert status == 200
    assert [sorted(i.keys()) for i in got] == [sorted(i.keys()) for i in want]
    for g, w in zip(got, want):
        for k in ("Containers", "Created", "Id", "Labels", "ParentId", "SharedSize", "Size", "VirtualSize"):
            assert g[k] == w[k], k
        assert g["RepoTags"] == [t for t in w["RepoTags"] if not t.startswith("127.0.0.1")]
    _, shared = api_json(idaemon, "GET", "/v1.45/images/json?shared-size=1")
    assert [i["SharedSize"] for i in shared] == [1985573, 1985573]


# ---- inspect, history ---------------------------------------------------------------


def test_image_inspect_fields_match_reference_engine(store, idaemon):
    load(store, LAYERED_TAR)
    want = fixture_json("image-inspect-layered.json")
    got = json.loads(store.run("image", "inspect", "layered").stdout)[0]
    for k in ("Id", "Parent", "Comment", "Created", "DockerVersion", "Author", "Config", "Architecture", "Os",
              "Size", "RootFS"):
        assert got[k] == want[k], k
    assert got["RepoTags"] == ["layered:latest"]
    assert got["RepoDigests"] == []
    assert got["GraphDriver"]["Name"] in ("overlay2", "vfs")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", got["Metadata"]["LastTagTime"])
    # 1.45 dropped Container/ContainerConfig and 1.44 VirtualSize; 1.41 has every field.
    assert "ContainerConfig" not in got and "VirtualSize" not in got
    status, old = api_json(idaemon, "GET", "/v1.41/images/layered/json")
    assert status == 200
    assert sorted(old.keys()) == sorted(want.keys())
    for k in ("Container", "ContainerConfig", "VirtualSize"):
        assert old[k] == want[k], k
    fmt = store.run("image", "inspect", "--format", "{{.Os}}/{{.Architecture}} {{.Size}} {{.Config.WorkingDir}}",
                    "layered").stdout
    assert fmt == "linux/amd64 1985667 /app\n"


def test_inspect_missing_and_invalid_names(store, idaemon):
    p = store.run("image", "inspect", "nope", check=False)
    assert p.returncode == 1 and "No such image: nope" in p.stderr
    status, body = api_json(idaemon, "GET", "/v1.45/images/nope/json")
    assert status == 404 and body == {"message": "No such image: nope:latest"}
    status, body = api_json(idaemon, "GET", "/v1.45/images/a:b:c/json")
    assert status == 400 and body == {"message": "invalid reference format"}
    p = store.run("image", "inspect", "Busybox", check=False)
    assert p.returncode == 1 and "invalid reference format: repository name (library/Busybox) must be lowercase" in p.stderr
    p = store.run("rmi", "a:b:c", check=False)
    assert p.returncode == 1 and "invalid reference format" in p.stderr


def test_docker_history_as_the_cli_shows_it(store, idaemon):
    load(store, LAYERED_TAR)
    lines = store.run("history", "layered").stdout.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert len(lines) == 15
    assert lines[1].startswith(LAYERED_ID[7:19] + " ")
    assert all(l.startswith("<missing> ") for l in lines[2:])
    assert "…" in lines[1]  # CREATED BY truncated
    sizes = store.run("history", "-H=false", "--format", "{{.Size}}", "layered").stdout.split()
    assert sizes == ["0"] * 8 + ["9", "85"] + ["0"] * 3 + ["1985573"]
    full = store.run("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "layered").stdout.splitlines()
    assert full[0] == LAYERED_ID + '|/bin/sh -c #(nop)  CMD ["httpd" "-f" "-p" "8080" "-h" "/app"]'
    assert full[-1].startswith("<missing>|/bin/sh -c #(nop) COPY dir:")
    # The API answer is the reference engine's, once the image has the same names.
    store.run("tag", "layered", "127.0.0.1:5000/layered:latest")
    status, got = api_json(idaemon, "GET", "/v1.41/images/layered/history")
    assert status == 200 and got == fixture_json("image-history-layered.json")


# ---- tag, rmi, prune ----------------------------------------------------------------


def test_tag_and_rmi_print_dockers_lines(store):
    load(store, BUSYBOX_TAR)
    load(store, LAYERED_TAR)
    store.run("tag", "busybox", "foo/bar:1")
    store.run("tag", BUSYBOX_ID[7:19], "example.com:5000/tools/bb")
    assert "example.com:5000/tools/bb:latest" in store.run("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert store.run("rmi", "foo/bar:1").stdout == "Untagged: foo/bar:1\n"
    # An ID referenced from several repositories is a conflict unless forced.
    p = store.run("rmi", BUSYBOX_ID[7:19], check=False)
    assert p.returncode == 1
    assert ("Error response from daemon: conflict: unable to delete %s (must be forced) - image is referenced in "
            "multiple repositories" % BUSYBOX_ID[7:19]) in p.stderr
    out = store.run("rmi", "-f", BUSYBOX_ID[7:19]).stdout.splitlines()
    assert sorted(out[:2]) == ["Untagged: busybox:latest", "Untagged: example.com:5000/tools/bb:latest"]
    assert out[2:] == ["Deleted: " + BUSYBOX_ID]  # its layer stays: layered uses it
    out = store.run("rmi", "layered").stdout.splitlines()
    assert out == ["Untagged: layered:latest", "Deleted: " + LAYERED_ID] + ["Deleted: " + c for c in LAYERED_CHAIN]
    p = store.run("rmi", "layered", check=False)
    assert p.returncode == 1 and "No such image: layered" in p.stderr


def test_tag_errors(store, idaemon):
    load(store, BUSYBOX_TAR)
    status, body = api_json(idaemon, "POST", "/v1.45/images/busybox/tag?repo=Foo")
    assert status == 400 and "must be lowercase" in body["message"]
    status, body = api_json(idaemon, "POST", "/v1.45/images/busybox/tag?repo=foo&tag=bad:tag")
    assert status == 400 and body["message"] == "invalid tag format"
    status, body = api_json(idaemon, "POST", "/v1.45/images/nope/tag?repo=foo")
    assert status == 404
    status, _, body = api(idaemon, "POST", "/v1.45/images/busybox/tag?repo=foo&tag=2")
    assert status == 201 and body == b""
    assert image_id(store, "foo:2") == BUSYBOX_ID


def test_image_prune(store):
    load(store, BUSYBOX_TAR)
    load(store, LAYERED_TAR)
    load(store, BUSYBOX_OCI)  # dangling
    out = store.run("image", "prune", "-f").stdout
    assert out.startswith("Deleted Images:\ndeleted: sha256:3e19711d")
    assert "Total reclaimed space: 0B" in out  # its only layer is busybox's too
    assert store.run("image", "prune", "-f").stdout == "Total reclaimed space: 0B\n"
    out = store.run("image", "prune", "-a", "-f").stdout
    assert "untagged: busybox:latest\n" in out and "untagged: layered:latest\n" in out
    assert "deleted: " + LAYERED_ID in out and "deleted: " + BUSYBOX_ID in out
    assert "Total reclaimed space: 1.986MB" in out
    assert store.run("images", "-a", "-q").stdout == ""


def test_prune_filters_label_and_until(store, idaemon):
    load(store, BUSYBOX_TAR)
    load(store, LAYERED_TAR)
    out = store.run("image", "prune", "-a", "-f", "--filter", "label=org.example.berth.fixture").stdout
    assert "untagged: layered:latest" in out and "busybox" not in out
    out = store.run("image", "prune", "-a", "-f", "--filter", "until=2000-01-01T00:00:00Z").stdout
    assert out == "Total reclaimed space: 0B\n"
    status, body = api_json(idaemon, "POST", '/v1.45/images/prune?filters={"until":["1h"],"dangling":["false"]}')
    assert status == 200 and body["ImagesDeleted"][0] == {"Untagged": "busybox:latest"}
    status, body = api_json(idaemon, "POST", '/v1.45/images/prune?filters={"until":["soon"]}')
    assert status == 400 and "failed to parse value as time or duration" in body["message"]


def test_system_df_image_part(store, idaemon):
    load(store, BUSYBOX_TAR)
    load(store, LAYERED_TAR)
    lines = store.run("system", "df").stdout.splitlines()
    assert lines[1].split()[:4] == ["Images", "2", "0", "1.986MB"]
    status, df = api_json(idaemon, "GET", "/v1.45/system/df")
    assert status == 200
    assert df["LayersSize"] == 1985667
    assert df["Containers"] == [] and df["Volumes"] == [] and df["BuildCache"] == []
    assert [(i["Id"], i["SharedSize"], i["Containers"]) for i in df["Images"]] == \
        [(LAYERED_ID, 1985573, 0), (BUSYBOX_ID, 1985573, 0)]
    verbose = store.run("system", "df", "-v").stdout
    assert re.search(r"layered\s+latest\s+98f2b9df14be\s+.*1\.99MB\s+1\.986MB\s+94B\s+0", verbose)


def test_images_that_containers_use(store):
    load(store, BUSYBOX_TAR)
    cid = store.run("run", "-d", "busybox", "sleep", "300").stdout.strip()
    try:
        p = store.run("rmi", "busybox", check=False)
        assert p.returncode == 1
        assert ('conflict: unable to remove repository reference "busybox" (must force) - container %s is using '
                "its referenced image %s" % (cid[:12], BUSYBOX_ID[7:19])) in p.stderr
        p = store.run("rmi", "-f", BUSYBOX_ID[7:19], check=False)
        assert p.returncode == 1
        assert ("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s"
                % (BUSYBOX_ID[7:19], cid[:12])) in p.stderr
        assert store.run("image", "prune", "-a", "-f").stdout == "Total reclaimed space: 0B\n"
        assert store.run("system", "df").stdout.splitlines()[1].split()[:3] == ["Images", "1", "1"]
        store.run("stop", "-t", "1", cid)
        p = store.run("rmi", "busybox", check=False)
        assert p.returncode == 1 and "must force" in p.stderr
        p = store.run("rmi", BUSYBOX_ID[7:19], check=False)
        assert p.returncode == 1 and "image is being used by stopped container %s" % cid[:12] in p.stderr
    finally:
        store.run("rm", "-f", cid, check=False)
    assert store.run("rmi", "busybox").stdout.splitlines()[0] == "Untagged: busybox:latest"


# ---- save, import -------------------------------------------------------------------


def test_save_rmi_load_round_trip(store, tmp_path):
    load(store, BUSYBOX_TAR)
    load(store, LAYERED_TAR)
    out = str(tmp_path / "both.tar")
    store.run("save", "-o", out, "busybox", "layered")
    with tarfile.open(out) as t:
        names = t.getnames()
        assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= set(names)
        blobs = [n for n in names if n.startswith("blobs/sha256/") and len(n) > len("blobs/sha256/")]
        assert len(blobs) == 2 + 3 + 2  # configs, layers (the shared base once), manifests
        manifest = json.load(t.extractfile("manifest.json"))
    assert [m["RepoTags"] for m in manifest] == [["busybox:latest"], ["layered:latest"]]
    store.run("rmi", "busybox", "layered")
    assert store.run("images", "-q").stdout == ""
    assert store.run("load", "-i", out).stdout == "Loaded image: busybox:latest\nLoaded image: layered:latest\n"
    assert image_id(store, "busybox") == BUSYBOX_ID
    assert image_id(store, "layered") == LAYERED_ID
    # To stdout, one image.
    p = subprocess.run(["docker", "save", "busybox"], capture_output=True,
                       env=docker_env(store.host, store.config_dir), timeout=60)
    assert p.returncode == 0 and len(p.stdout) > 2000000
    p = store.run("save", "-o", str(tmp_path / "x.tar"), "nope:1", check=False)
    assert p.returncode == 1 and "No such image: nope:1" in p.stderr


@pytest.mark.skipif(not os.path.exists("/usr/sbin/dockerd"), reason="Debian's dockerd (docker.io) is not installed")
def test_debian_dockerd_loads_what_berth_saves(store, tmp_path):
    load(store, BUSYBOX_TAR)
    load(store, LAYERED_TAR)
    out = str(tmp_path / "for-dockerd.tar")
    store.run("save", "-o", out, "busybox", "layered")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
    import daemons
    env = daemons.Env(dockerd="/usr/sbin/dockerd", docker_cli=daemons.find_docker_cli() or "docker")
    try:
        d = daemons.Dockerd(env, "dockerd-e2e", "/usr/sbin/dockerd")
        d.start()
        peer = DockerCLI(d.host)
        try:
            assert peer.run("load", "-i", out).stdout == "Loaded image: busybox:latest\nLoaded image: layered:latest\n"
            assert image_id(peer, "busybox") == BUSYBOX_ID
            assert image_id(peer, "layered") == LAYERED_ID
        finally:
            peer.cleanup()
    finally:
        env.cleanup()


def make_rootfs_tar(path):
    with tarfile.open(path, "w") as t:
        data = b"hello from an imported image\n"
        info = tarfile.TarInfo("etc/hello")
        info.size = len(data)
        import io
        t.addfile(info, io.BytesIO(data))


def test_import_with_changes_and_message(store, tmp_path):
    tar = str(tmp_path / "rootfs.tar")
    make_rootfs_tar(tar)
    out = store.run("import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV A=b C=\"d e\"", "--change",
                    "WORKDIR /srv", "--change", "USER nobody", "--change", "EXPOSE 8080", "--change",
                    "LABEL team=images", "--change", "VOLUME /data", "--change", "STOPSIGNAL SIGINT", "--change",
                    'ENTRYPOINT ["/bin/echo"]', "--message", "made by a test", tar, "imported:1").stdout
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", out)
    ins = json.loads(store.run("image", "inspect", "imported:1").stdout)[0]
    assert ins["Id"] == out.strip()
    cfg = ins["Config"]
    assert cfg["Cmd"] == ["/bin/sh"] and cfg["Entrypoint"] == ["/bin/echo"]
    assert cfg["Env"] == ["A=b", "C=d e"] and cfg["WorkingDir"] == "/srv" and cfg["User"] == "nobody"
    assert cfg["ExposedPorts"] == {"8080/tcp": {}} and cfg["Labels"] == {"team": "images"}
    assert cfg["Volumes"] == {"/data": {}} and cfg["StopSignal"] == "SIGINT"
    assert ins["Comment"] == "made by a test"
    assert ins["Size"] == len(b"hello from an imported image\n")
    hist = store.run("history", "--format", "{{.Comment}}", "imported:1").stdout
    assert hist == "made by a test\n"
    # From stdin, no message: dockerd's default comment.
    with open(tar, "rb") as f:
        p = docker_stdin(store, ["import", "-", "imported:2"], f.read())
    assert store.run("image", "inspect", "--format", "{{.Comment}}", "imported:2").stdout == "Imported from -\n"
    p = store.run("import", "--change", "RUN rm -rf /", tar, check=False)
    assert p.returncode == 1 and "RUN is not a valid change command" in p.stderr


def test_image_events(store, tmp_path):
    start = int(time.time()) + 1
    time.sleep(start - time.time() + 0.05)  # the store fixture's clean-up is in an earlier second
    since = str(start)
    load(store, LAYERED_TAR)
    store.run("tag", "layered", "x:1")
    store.run("save", "-o", str(tmp_path / "x.tar"), "x:1")
    store.run("rmi", "x:1", "layered")
    store.run("image", "prune", "-f")
    time.sleep(1.1)
    out = store.run("events", "--since", since, "--until", str(int(time.time())), "--filter", "type=image",
                    "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}").stdout.splitlines()
    assert out == [
        "load %s %s" % (LAYERED_ID, LAYERED_ID),
        "tag %s x:1" % LAYERED_ID,
        "save %s %s" % (LAYERED_ID, LAYERED_ID),
        "untag %s %s" % (LAYERED_ID, LAYERED_ID),
        "untag %s %s" % (LAYERED_ID, LAYERED_ID),
        "delete %s %s" % (LAYERED_ID, LAYERED_ID),
        "prune  <no value>",
    ]


# ---- crash safety -------------------------------------------------------------------


def test_kill9_during_load_leaves_a_store_that_restarts_clean(fresh_daemon):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", BUSYBOX_TAR)
        with open(LAYERED_TAR, "rb") as f:
            data = f.read()
        feeder = subprocess.Popen(["docker", "load"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=docker_env(d.host, cli.config_dir))
        # Feed half slowly: the daemon is mid-spool when it dies.
        half = len(data) // 2
        for i in range(0, half, 65536):
            feeder.stdin.write(data[i:min(i + 65536, half)])
            feeder.stdin.flush()
            time.sleep(0.01)
        spool = os.path.join(d.data_root, "tmp")
        deadline = time.time() + 10
        while time.time() < deadline and not os.listdir(spool):
            time.sleep(0.02)
        assert os.listdir(spool), "the load never started spooling"
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        try:
            feeder.stdin.close()
        except BrokenPipeError:
            pass
        assert feeder.wait(30) != 0
        d.log.close()
        d.proc = None
        d.start()
        assert cli.run("images", "--format", "{{.Repository}}").stdout == "busybox\n"
        assert os.listdir(spool) == []
        assert cli.run("load", "-i", LAYERED_TAR).stdout == "Loaded image: layered:latest\n"
        assert image_id(cli, "layered") == LAYERED_ID
    finally:
        cli.cleanup()


def test_client_going_away_mid_load_loads_nothing(store, idaemon):
    with open(LAYERED_TAR, "rb") as f:
        data = f.read()
    s = socket.socket(socket.AF_UNIX)
    s.connect(idaemon.sock)
    s.sendall(b"POST /v1.45/images/load HTTP/1.1\r\nHost: d\r\nContent-Length: %d\r\n\r\n" % len(data))
    # Everything but the end-of-archive blocks: a reader could take it for a whole tar.
    s.sendall(data[:len(data) - 1024])
    time.sleep(0.3)
    s.close()
    deadline = time.time() + 10
    while time.time() < deadline and os.listdir(os.path.join(idaemon.data_root, "tmp")):
        time.sleep(0.05)
    assert store.run("images", "-a", "-q").stdout == ""
