"""Registries: pull, push and login against Debian's docker-registry on 127.0.0.1, with the
docker CLI and docker-py as users drive them. Faults (corrupt blobs, cut transfers, a
registry that dies, Bearer auth) come from the front proxy in registry.py."""
import json
import os
import subprocess
import tempfile

import pytest

from conftest import TESTDATA, DockerCLI
from registry import (FrontProxy, Registry, docker_archive_blobs, extract_storage, gzip_bytes, sha256,
                      upload_image, upload_index)

FIX = os.path.join(TESTDATA, "fixtures")
BUSYBOX_ID = "sha256:1753f6f850bd793fb12d6eb8f3c47c9b91eefa519a95aeaf492d02ac5fc14ef5"
LAYERED_ID = "sha256:98f2b9df14be82434877634cf433aaa092a6212299ac028eafa7e21738450bb1"
BUSYBOX_DIGEST = "sha256:aac72f51d71fc353d25796c97f6213ebfa7a2b0e5cb26ab21586154388befa14"
LAYERED_DIGEST = "sha256:0e37d494d43983231f7d65c6e8b3a6070c6fe66b0a443221d3f65576522fa1af"


@pytest.fixture(scope="module")
def peer_registry():
    storage = tempfile.mkdtemp(prefix="berth-peer-storage-")
    extract_storage(os.path.join(FIX, "registry", "peer-registry-storage.tar"), storage)
    reg = Registry(storage=storage).start()
    yield reg
    reg.cleanup()
    subprocess.run(["rm", "-rf", storage])


@pytest.fixture
def registry():
    reg = Registry().start()
    yield reg
    reg.cleanup()


@pytest.fixture
def proxy(registry):
    p = FrontProxy(registry.port).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def busybox_blobs():
    config, layers = docker_archive_blobs(os.path.join(FIX, "busybox-docker-archive.tar"))
    return config, [gzip_bytes(l) for l in layers]


def daemon_cli(fresh_daemon):
    d = fresh_daemon()
    return d, DockerCLI(d.host)


def inspect(cli, ref, fmt):
    return cli.run("image", "inspect", "--format", fmt, ref).stdout.strip()


def store_leftovers(d):
    """Files a failed pull must not leave: blobs, layers, temporaries, images."""
    root = d.data_root
    out = []
    for sub in ("blobs/sha256", "tmp", "layers/sha256", "image/sha256"):
        p = os.path.join(root, sub)
        if os.path.isdir(p):
            out += [os.path.join(sub, n) for n in os.listdir(p)]
    return out


# ---- pull ----

def test_pull_peer_registry_gives_reference_image_ids(fresh_daemon, peer_registry):
    # a daemon of its own: the session one may hold busybox already (other modules load it)
    from conftest import DockerCLI
    docker = DockerCLI(fresh_daemon().host)
    host = peer_registry.host
    p = docker.run("pull", host + "/busybox")
    assert "latest: Pulling from busybox" in p.stdout
    assert "Pull complete" in p.stdout
    assert "Digest: " + BUSYBOX_DIGEST in p.stdout
    assert "Status: Downloaded newer image for %s/busybox:latest" % host in p.stdout
    assert inspect(docker, host + "/busybox", "{{.Id}}") == BUSYBOX_ID
    assert inspect(docker, host + "/busybox", "{{json .RepoDigests}}") == \
        json.dumps([host + "/busybox@" + BUSYBOX_DIGEST]).replace(" ", "")

    p = docker.run("pull", host + "/layered")
    assert "Already exists" in p.stdout
    assert inspect(docker, host + "/layered", "{{.Id}}") == LAYERED_ID
    assert docker.run("run", "--rm", host + "/layered", "greet").stdout.strip() == "hello world from nobody"

    p = docker.run("pull", host + "/busybox")
    assert "Status: Image is up to date for %s/busybox:latest" % host in p.stdout


def test_pull_by_digest(docker, peer_registry):
    ref = "%s/layered@%s" % (peer_registry.host, LAYERED_DIGEST)
    p = docker.run("pull", ref)
    assert "Digest: " + LAYERED_DIGEST in p.stdout
    assert inspect(docker, ref, "{{.Id}}") == LAYERED_ID


def test_pull_progress_stream(fresh_daemon, peer_registry):
    import docker as dockerpy
    d = fresh_daemon()
    c = dockerpy.APIClient(base_url=d.host, version="auto")
    msgs = list(c.pull(peer_registry.host + "/busybox", tag="latest", stream=True, decode=True))
    statuses = [m.get("status", "") for m in msgs]
    layer = BUSYBOX_LAYER_SHORT = "f6f9cf8c1016"
    for want in ("Pulling fs layer", "Downloading", "Verifying Checksum", "Download complete", "Extracting",
                 "Pull complete"):
        assert any(m.get("status") == want and m.get("id") == layer for m in msgs), (want, msgs)
    dl = [m for m in msgs if m.get("status") == "Downloading"]
    assert dl[-1]["progressDetail"] == {"current": 1068612, "total": 1068612}
    assert statuses[0] == "Pulling from busybox" and msgs[0]["id"] == "latest"
    assert statuses[-2] == "Digest: " + BUSYBOX_DIGEST
    assert BUSYBOX_LAYER_SHORT
    # Downloads finish before extraction of the same layer starts.
    assert statuses.index("Download complete") < statuses.index("Extracting")
    c.close()


def test_pull_unknown_tag_is_an_http_error(docker, peer_registry):
    p = docker.run("pull", peer_registry.host + "/busybox:nope", check=False)
    assert p.returncode != 0
    assert "manifest for %s/busybox:nope not found" % peer_registry.host in p.stderr


def test_pull_unreachable_registry(docker):
    from registry import free_port
    p = docker.run("pull", "127.0.0.1:%d/busybox" % free_port(), check=False)
    assert p.returncode != 0
    assert "/v2/" in p.stderr


def test_pull_oci_index_selects_linux_amd64(docker, registry, busybox_blobs):
    config, layers = busybox_blobs
    arm = json.loads(config)
    arm["architecture"] = "arm64"
    arm_config = json.dumps(arm).encode()
    amd_digest, amd_body = upload_image(registry, "multi", sha256(b"x")[7:19], config, layers, oci=True)
    arm_digest, arm_body = upload_image(registry, "multi", sha256(b"y")[7:19], arm_config, layers, oci=True)
    mt = "application/vnd.oci.image.manifest.v1+json"
    idx_digest, _ = upload_index(registry, "multi", "latest", [
        (arm_body, mt, {"architecture": "arm64", "os": "linux", "variant": "v8"}),
        (amd_body, mt, {"architecture": "amd64", "os": "linux"}),
    ])
    ref = registry.host + "/multi"
    p = docker.run("pull", ref)
    assert "Digest: " + idx_digest in p.stdout
    assert inspect(docker, ref, "{{.Id}}") == sha256(config)
    assert inspect(docker, ref, "{{.Architecture}}") == "amd64"
    # --platform picks the other entry.
    p = docker.run("pull", "--platform", "linux/arm64", ref + ":latest")
    assert inspect(docker, ref, "{{.Id}}") == sha256(arm_config)
    # A Docker manifest list works the same way.
    dl_digest, _ = upload_index(registry, "multi", "list", [
        (amd_body, mt, {"architecture": "amd64", "os": "linux"})], oci=False)
    docker.run("pull", ref + ":list")
    assert inspect(docker, ref + ":list", "{{.Id}}") == sha256(config)


def test_pull_zstd_layers_then_push_them_back(fresh_daemon, registry, tmp_path):
    """OCI layers compressed with zstd: pulled, verified, applied (the container runs), and
    pushed back as the same bytes with the same media type."""
    config, tars = docker_archive_blobs(os.path.join(FIX, "busybox-docker-archive.tar"))
    zlayers = [subprocess.run(["zstd", "-q", "-c", "-3"], input=t, capture_output=True, check=True).stdout
               for t in tars]
    zmt = "application/vnd.oci.image.layer.v1.tar+zstd"
    digest, _ = upload_image(registry, "zst", "latest", config, zlayers, oci=True, layer_media=zmt)
    d, cli = daemon_cli(fresh_daemon)
    ref = registry.host + "/zst"
    p = cli.run("pull", ref)
    assert "Digest: " + digest in p.stdout
    assert inspect(cli, ref, "{{.Id}}") == BUSYBOX_ID
    assert cli.run("run", "--rm", ref, "cat", "/etc/hostname").returncode == 0
    assert cli.run("run", "--rm", ref, "sh", "-c", "echo zstd-ok").stdout.strip() == "zstd-ok"
    cli.run("tag", ref, registry.host + "/zst-back")
    p = cli.run("push", registry.host + "/zst-back")
    pushed = p.stdout.split("latest: digest: ")[1].split()[0]
    st, _, body = registry.get_manifest("zst-back", "latest")
    assert st == 200 and sha256(body) == pushed
    back = json.loads(body)
    assert [l["mediaType"] for l in back["layers"]] == [zmt] * len(zlayers)
    assert [l["digest"] for l in back["layers"]] == [sha256(z) for z in zlayers]


def test_pull_schema1_is_refused(docker, registry, proxy):
    body = json.dumps({"schemaVersion": 1, "name": "old", "tag": "latest", "architecture": "amd64",
                       "fsLayers": [], "history": []}).encode()
    proxy.manifest_override["/v2/old/manifests/latest"] = (
        "application/vnd.docker.distribution.manifest.v1+prettyjws", body)
    p = docker.run("pull", proxy.host + "/old", check=False)
    assert p.returncode != 0
    assert "schema 1" in p.stderr


def test_pull_corrupt_blob_fails_and_leaves_nothing(fresh_daemon, registry, proxy, busybox_blobs):
    config, layers = busybox_blobs
    upload_image(registry, "corrupt", "latest", config, layers)
    proxy.corrupt_blob = sha256(layers[0])
    d, cli = daemon_cli(fresh_daemon)
    p = cli.run("pull", proxy.host + "/corrupt", check=False)
    assert p.returncode != 0
    assert "verification failed for digest " + sha256(layers[0]) in (p.stdout + p.stderr)
    assert cli.run("images", "-q").stdout.strip() == ""
    assert store_leftovers(d) == []
    # The next pull, with the registry serving good bytes, works.
    proxy.corrupt_blob = None
    cli.run("pull", proxy.host + "/corrupt")
    assert inspect(cli, proxy.host + "/corrupt", "{{.Id}}") == BUSYBOX_ID


def test_pull_resumes_a_cut_download_with_range(fresh_daemon, registry, proxy, busybox_blobs):
    config, layers = busybox_blobs
    upload_image(registry, "cut", "latest", config, layers)
    digest = sha256(layers[0])
    proxy.cut_blob = (digest, 300000)
    d, cli = daemon_cli(fresh_daemon)
    cli.run("pull", proxy.host + "/cut")
    assert inspect(cli, proxy.host + "/cut", "{{.Id}}") == BUSYBOX_ID
    ranges = [h.get("Range") for m, path, h in proxy.requests if path.endswith("/blobs/" + digest)]
    assert "bytes=300000-" in ranges, ranges


def test_registry_killed_mid_pull_then_next_pull_succeeds(fresh_daemon, registry, busybox_blobs):
    config, layers = busybox_blobs
    upload_image(registry, "dies", "latest", config, layers)
    proxy = FrontProxy(registry.port).start()
    revived = None
    try:
        def kill(digest, handler):
            if digest == sha256(layers[0]):
                registry.kill()
        proxy.on_blob = kill
        d, cli = daemon_cli(fresh_daemon)
        p = cli.run("pull", proxy.host + "/dies", check=False, timeout=90)
        assert p.returncode != 0
        assert p.stderr.strip() != ""
        assert cli.run("images", "-q").stdout.strip() == ""
        assert store_leftovers(d) == []
        proxy.on_blob = None
        revived = Registry(storage=registry.storage, port=registry.port).start()
        cli.run("pull", proxy.host + "/dies")
        assert inspect(cli, proxy.host + "/dies", "{{.Id}}") == BUSYBOX_ID
    finally:
        proxy.stop()
        if revived:
            revived.cleanup()


# ---- push ----

def test_push_then_pull_back_same_id_and_digest(fresh_daemon, registry):
    d, cli = daemon_cli(fresh_daemon)
    host = registry.host
    cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
    cli.run("load", "-i", os.path.join(FIX, "layered-docker-archive.tar"))
    cli.run("tag", "busybox", host + "/busybox")
    p = cli.run("push", host + "/busybox")
    assert "The push refers to repository [%s/busybox]" % host in p.stdout
    assert "Pushed" in p.stdout
    line = [l for l in p.stdout.splitlines() if l.startswith("latest: digest: ")][0]
    digest, size = line.split()[2], int(line.split()[4])
    st, h, body = registry.get_manifest("busybox", "latest")
    assert h["Docker-Content-Digest"] == digest == sha256(body) and len(body) == size

    p = cli.run("push", host + "/busybox")
    assert "Layer already exists" in p.stdout
    assert "latest: digest: %s size: %d" % (digest, size) in p.stdout

    # A second repository with the shared base layer mounts it.
    cli.run("tag", "layered", host + "/app/layered:v1")
    p = cli.run("push", host + "/app/layered:v1")
    assert "Mounted from busybox" in p.stdout
    layered_digest = [l for l in p.stdout.splitlines() if l.startswith("v1: digest: ")][0].split()[2]

    cli.run("rmi", "-f", BUSYBOX_ID, LAYERED_ID)
    assert cli.run("images", "-q").stdout.strip() == ""
    p = cli.run("pull", host + "/busybox")
    assert "Digest: " + digest in p.stdout
    assert inspect(cli, host + "/busybox", "{{.Id}}") == BUSYBOX_ID
    cli.run("pull", host + "/app/layered:v1")
    assert inspect(cli, host + "/app/layered:v1", "{{.Id}}") == LAYERED_ID
    assert inspect(cli, host + "/app/layered:v1", "{{json .RepoDigests}}") == \
        json.dumps([host + "/app/layered@" + layered_digest])
    assert cli.run("run", "--rm", host + "/app/layered:v1", "greet").stdout.strip() == "hello world from nobody"


def test_push_pulled_image_keeps_compressed_bytes(fresh_daemon, peer_registry, registry):
    d, cli = daemon_cli(fresh_daemon)
    cli.run("pull", peer_registry.host + "/busybox")
    cli.run("tag", peer_registry.host + "/busybox", registry.host + "/copy")
    p = cli.run("push", registry.host + "/copy")
    # Same blobs, same manifest bytes: the peer registry's digest.
    assert "latest: digest: " + BUSYBOX_DIGEST in p.stdout


def make_big_image(cli, tmp, ref, size=10 * 1000 * 1000):
    """`docker import` of a tar holding one random file: a layer that stays > 8 MiB gzipped."""
    import io
    import tarfile
    path = os.path.join(tmp, "big.tar")
    data = os.urandom(size)
    with tarfile.open(path, "w") as t:
        ti = tarfile.TarInfo("big.bin")
        ti.size = len(data)
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
    cli.run("import", path, ref)
    return inspect(cli, ref, "{{.Id}}")


def upload_requests(proxy, repo):
    return [(m, path, {k.lower(): v for k, v in h.items()}) for m, path, h in proxy.requests
            if path.startswith("/v2/%s/blobs/uploads/" % repo)]


def test_push_large_blob_is_chunked(fresh_daemon, registry, proxy, tmp_path):
    d, cli = daemon_cli(fresh_daemon)
    ref = proxy.host + "/big:v1"
    image_id = make_big_image(cli, str(tmp_path), ref)
    p = cli.run("push", ref)
    assert "Pushed" in p.stdout
    digest = [l for l in p.stdout.splitlines() if l.startswith("v1: digest: ")][0].split()[2]

    reqs = upload_requests(proxy, "big")
    patches = [r for r in reqs if r[0] == "PATCH"]
    assert patches, [(m, path) for m, path, _ in reqs]
    # Content-Range chunks: contiguous from 0, as application/octet-stream.
    pos = 0
    for _, _, h in patches:
        assert h["content-type"] == "application/octet-stream"
        start, end = (int(x) for x in h["content-range"].split("-"))
        assert start == pos and end >= start and int(h["content-length"]) == end - start + 1
        pos = end + 1
    assert pos > 8 << 20
    # Then the session closes with an empty PUT ?digest= on the last Location.
    i = reqs.index(patches[-1])
    m, path, h = reqs[i + 1]
    assert m == "PUT" and "digest=sha256:" in path and "_state=" in path
    assert int(h.get("content-length", "0")) == 0
    # Small blobs (the config) stay monolithic: POST then PUT with the body.
    assert any(m == "PUT" and int(h.get("content-length", "0")) > 0 for m, _, h in reqs)

    cli.run("rmi", "-f", image_id)
    p = cli.run("pull", ref)
    assert "Digest: " + digest in p.stdout
    assert inspect(cli, ref, "{{.Id}}") == image_id


def test_push_chunked_relative_location_and_patch_refused(fresh_daemon, registry, proxy, tmp_path):
    """A registry answering relative Locations (with query strings) is followed; one that
    refuses PATCH gets the whole blob in one PUT instead."""
    d, cli = daemon_cli(fresh_daemon)
    base = proxy.server.RequestHandlerClass
    refuse = {"patch": False}
    sent_locations = []

    class Handler(base):
        def _send(self, status, headers, body):
            # "http://host/v2/r/blobs/uploads/<uuid>?_state=..." -> "<uuid>?_state=..."
            out = []
            for k, v in headers:
                if k.lower() == "location" and "/blobs/uploads/" in v:
                    v = v.rsplit("/", 1)[-1]
                    sent_locations.append(v)
                out.append((k, v))
            headers = out
            return base._send(self, status, headers, body)

        def do_PATCH(self):
            if not refuse["patch"]:
                return self._handle()
            proxy.requests.append((self.command, self.path, dict(self.headers)))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            return self._send(405, [("Content-Type", "application/json")],
                              b'{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}')

    proxy.server.RequestHandlerClass = Handler
    ref = proxy.host + "/rel:v1"
    image_id = make_big_image(cli, str(tmp_path), ref)
    cli.run("push", ref)
    reqs = upload_requests(proxy, "rel")
    assert [m for m, _, _ in reqs if m == "PATCH"]
    assert sent_locations and all(not l.startswith(("/", "http")) and "?_state=" in l for l in sent_locations)
    assert all("digest=" not in path or "_state=" in path for m, path, _ in reqs if m == "PUT")

    refuse["patch"] = True
    ref2 = proxy.host + "/nopatch:v1"  # another layer: the first one would be mounted
    image_id2 = make_big_image(cli, str(tmp_path), ref2)
    proxy.requests.clear()
    cli.run("push", ref2)
    reqs = upload_requests(proxy, "nopatch")
    assert [m for m, _, _ in reqs if m == "PATCH"]
    big = [h for m, path, h in reqs if m == "PUT" and int(h.get("content-length", "0")) > 8 << 20]
    assert len(big) == 1
    cli.run("rmi", "-f", image_id, image_id2)
    cli.run("pull", ref)
    cli.run("pull", ref2)
    assert inspect(cli, ref, "{{.Id}}") == image_id
    assert inspect(cli, ref2, "{{.Id}}") == image_id2


def test_push_missing_image(docker, registry):
    p = docker.run("push", registry.host + "/nothing:here", check=False)
    assert p.returncode != 0
    assert "An image does not exist locally with the tag: %s/nothing" % registry.host in (p.stdout + p.stderr)


# ---- auth ----

def make_tls(dirname):
    ca_key, ca_crt = os.path.join(dirname, "ca.key"), os.path.join(dirname, "ca.crt")
    key, csr, crt = (os.path.join(dirname, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(dirname, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "2",
        "-subj", "/CN=berth test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "2",
        "-extfile", ext)
    return ca_crt, crt, key


def make_htpasswd(path, user, password):
    import bcrypt
    with open(path, "w") as f:
        f.write("%s:%s\n" % (user, bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()))


@pytest.fixture(scope="module")
def auth_registry():
    base = tempfile.mkdtemp(prefix="berth-auth-reg-")
    ca, crt, key = make_tls(base)
    hp = os.path.join(base, "htpasswd")
    make_htpasswd(hp, "alice", "s3cret")
    reg = Registry(htpasswd=hp, tls=(crt, key)).start()
    yield reg
    reg.cleanup()
    subprocess.run(["rm", "-rf", base])


def test_login_push_pull_with_basic_auth_over_tls(fresh_daemon, auth_registry):
    d, cli = daemon_cli(fresh_daemon)
    host = auth_registry.host
    p = cli.run("login", host, "-u", "alice", "--password-stdin", input="wrong\n", check=False)
    assert p.returncode != 0
    assert "401 Unauthorized" in p.stderr

    cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
    cli.run("tag", "busybox", host + "/private/busybox")
    p = cli.run("push", host + "/private/busybox", check=False)
    assert p.returncode != 0 and "authentication required" in (p.stdout + p.stderr)

    p = cli.run("login", host, "-u", "alice", "--password-stdin", input="s3cret\n")
    assert "Login Succeeded" in p.stdout
    p = cli.run("push", host + "/private/busybox")
    assert "Pushed" in p.stdout
    cli.run("rmi", "-f", BUSYBOX_ID)
    cli.run("pull", host + "/private/busybox")
    assert inspect(cli, host + "/private/busybox", "{{.Id}}") == BUSYBOX_ID


def test_bearer_token_flow_and_cache(fresh_daemon, registry, proxy, busybox_blobs):
    config, layers = busybox_blobs
    upload_image(registry, "tok/busybox", "latest", config, layers)
    proxy.bearer = True
    d, cli = daemon_cli(fresh_daemon)
    cli.run("pull", proxy.host + "/tok/busybox")
    assert inspect(cli, proxy.host + "/tok/busybox", "{{.Id}}") == BUSYBOX_ID
    assert len(proxy.tokens_issued) == 1 and "repository:tok/busybox:pull" in proxy.tokens_issued[0]
    token_reqs = [path for m, path, h in proxy.requests if path.startswith("/token")]
    assert "service=berth-test" in token_reqs[0]
    # Cached per scope: pulling again asks for no new token.
    cli.run("pull", proxy.host + "/tok/busybox")
    assert len(proxy.tokens_issued) == 1
    # Push needs pull,push: a new scope, a new token.
    cli.run("tag", BUSYBOX_ID, proxy.host + "/tok/pushed")
    cli.run("push", proxy.host + "/tok/pushed")
    assert any("repository:tok/pushed:pull,push" in t for t in proxy.tokens_issued)


def test_login_with_bearer_token_server(fresh_daemon, registry, proxy):
    proxy.bearer = True
    proxy.bearer_users = {"bob": "pw"}
    d, cli = daemon_cli(fresh_daemon)
    p = cli.run("login", proxy.host, "-u", "bob", "--password-stdin", input="bad\n", check=False)
    assert p.returncode != 0
    p = cli.run("login", proxy.host, "-u", "bob", "--password-stdin", input="pw\n")
    assert "Login Succeeded" in p.stdout


def test_login_identity_token_then_pull_with_oauth_refresh(fresh_daemon, registry, proxy, busybox_blobs):
    """Docker Hub's form: the token server hands `docker login` a refresh token, the CLI
    stores it as identitytoken instead of the password, and later pulls trade it for
    access tokens through the OAuth2 POST form."""
    config, layers = busybox_blobs
    upload_image(registry, "oa/busybox", "latest", config, layers)
    proxy.bearer = True
    proxy.bearer_users = {"bob": "pw"}
    proxy.refresh_tokens = True
    d, cli = daemon_cli(fresh_daemon)
    p = cli.run("login", proxy.host, "-u", "bob", "--password-stdin", input="pw\n")
    assert "Login Succeeded" in p.stdout
    assert len(proxy.refresh_issued) == 1
    refresh = next(iter(proxy.refresh_issued))
    login_gets = [path for m, path, h in proxy.requests if m == "GET" and path.startswith("/token")]
    assert "offline_token=true" in login_gets[-1] and "client_id=docker" in login_gets[-1]
    with open(os.path.join(cli.config_dir, "config.json")) as f:
        stored = json.load(f)["auths"][proxy.host]
    assert stored.get("identitytoken") == refresh

    del proxy.requests[:]
    cli.run("pull", proxy.host + "/oa/busybox")
    assert inspect(cli, proxy.host + "/oa/busybox", "{{.Id}}") == BUSYBOX_ID
    assert proxy.token_forms, "the pull never used the refresh token"
    form = proxy.token_forms[-1]
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == [refresh]
    assert form["client_id"] == ["docker"] and form["service"] == ["berth-test"]
    assert form["scope"] == ["repository:oa/busybox:pull"]
    assert not [path for m, path, h in proxy.requests if m == "GET" and path.startswith("/token")]

    # A token cached for the good password is no reason to accept a bad one.
    p = cli.run("login", proxy.host, "-u", "bob", "--password-stdin", input="bad\n", check=False)
    assert p.returncode != 0
    assert "unauthorized: incorrect username or password" in p.stderr, p.stderr
    # A refresh token the server no longer knows fails the next pull (a new scope, so a
    # new token) with the server's error.
    upload_image(registry, "oa/other", "latest", config, layers)
    proxy.refresh_issued.clear()
    # The daemon answers 401 (the CLI would then prompt for a login): ask through docker-py.
    import docker as dockerpy
    api = dockerpy.APIClient(base_url=d.host, version="auto", timeout=30)
    try:
        with pytest.raises(dockerpy.errors.APIError) as e:
            api.pull(proxy.host + "/oa/other", tag="latest",
                     auth_config={"username": "bob", "identitytoken": refresh})
        assert e.value.status_code == 401
        assert "unauthorized: invalid refresh token" in str(e.value.explanation)
    finally:
        api.close()
    assert cli.run("image", "inspect", proxy.host + "/oa/other", check=False).returncode != 0


def test_distribution_inspect(client, peer_registry):
    info = client.api.inspect_distribution(peer_registry.host + "/busybox:latest")
    assert info["Descriptor"]["digest"] == BUSYBOX_DIGEST
    assert info["Descriptor"]["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert {"architecture": "amd64", "os": "linux"} in info["Platforms"]


# ---- registry mirrors ----

@pytest.fixture(scope="module")
def hub_mirror():
    """A local registry holding busybox as docker.io's `library/busybox:latest`, pushed by a
    berthd of its own: it stands in for a Docker Hub mirror."""
    from conftest import Berthd
    reg = Registry().start()
    d = Berthd().start()
    try:
        cli = DockerCLI(d.host)
        cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
        cli.run("tag", "busybox", reg.host + "/library/busybox:latest")
        p = cli.run("push", reg.host + "/library/busybox:latest")
        digest = [l for l in p.stdout.splitlines() if l.startswith("latest: digest: ")][0].split()[2]
        cli.cleanup()
    finally:
        d.cleanup()
    yield reg, digest
    reg.cleanup()


def test_pull_from_registry_mirror(fresh_daemon, hub_mirror):
    reg, digest = hub_mirror
    d = fresh_daemon(config=json.dumps({"registry-mirrors": ["http://" + reg.host]}))
    cli = DockerCLI(d.host)
    info = cli.run("info").stdout
    assert "Registry Mirrors:" in info
    assert "http://%s/" % reg.host in info.split("Registry Mirrors:", 1)[1]
    p = cli.run("pull", "busybox", timeout=60)
    assert "Using default tag: latest" in p.stdout
    assert "latest: Pulling from library/busybox" in p.stdout
    assert "Digest: " + digest in p.stdout
    assert "Status: Downloaded newer image for busybox:latest" in p.stdout
    assert inspect(cli, "busybox", "{{.Id}}") == BUSYBOX_ID
    assert inspect(cli, "busybox", "{{json .RepoDigests}}") == json.dumps(["busybox@" + digest])
    assert inspect(cli, "busybox", "{{json .RepoTags}}") == json.dumps(["busybox:latest"])
    lines = cli.run("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}").stdout.splitlines()
    assert lines == ["busybox latest " + BUSYBOX_ID[7:19]], lines
    # The mirror served it: it logged the manifest request under docker.io's full name.
    with open(reg.log_path, errors="replace") as f:
        assert "/v2/library/busybox/manifests/latest" in f.read()
    p = cli.run("pull", "busybox")
    assert "Status: Image is up to date for busybox:latest" in p.stdout


def test_registry_mirror_flag_and_down_mirror(fresh_daemon):
    import time
    from registry import free_port
    dead = "http://127.0.0.1:%d" % free_port()
    d = fresh_daemon("--registry-mirror", dead)
    cli = DockerCLI(d.host)
    assert dead + "/" in cli.run("info").stdout.split("Registry Mirrors:", 1)[1]
    t = time.time()
    p = cli.run("pull", "busybox", check=False, timeout=60)
    took = time.time() - t
    assert p.returncode != 0
    assert took < 30, took
    err = p.stderr.strip()
    assert err.startswith("Error response from daemon:"), err
    assert "registry-1.docker.io" in err or "127.0.0.1" in err, err
    assert cli.run("images", "-q").stdout.strip() == ""
    assert store_leftovers(d) == []
    # The daemon is still fine afterwards.
    cli.run("version")


def test_mirror_without_the_image_falls_back_to_the_next_endpoint(fresh_daemon, registry, hub_mirror):
    """A mirror that answers but lacks the image hands the pull on, as dockerd does: to the
    next mirror, then to the upstream (unreachable here: its error is the one reported)."""
    import time
    good, digest = hub_mirror
    empty = registry
    d = fresh_daemon(config=json.dumps({"registry-mirrors": ["http://" + empty.host, "http://" + good.host + "/"]}))
    cli = DockerCLI(d.host)
    assert cli.run("info", "--format", "{{json .RegistryConfig.Mirrors}}").stdout.strip() == \
        json.dumps(["http://%s/" % empty.host, "http://%s/" % good.host]).replace(" ", "")
    cli.run("pull", "busybox:latest")
    assert inspect(cli, "busybox", "{{.Id}}") == BUSYBOX_ID
    assert inspect(cli, "busybox", "{{json .RepoDigests}}") == json.dumps(["busybox@" + digest])
    with open(empty.log_path, errors="replace") as f:
        assert "/v2/library/busybox/manifests/latest" in f.read()

    d2 = fresh_daemon(config=json.dumps({"registry-mirrors": ["http://" + empty.host]}))
    cli2 = DockerCLI(d2.host)
    t = time.time()
    p = cli2.run("pull", "busybox", check=False, timeout=60)
    assert time.time() - t < 30
    assert p.returncode != 0
    assert "registry-1.docker.io" in p.stderr, p.stderr
    assert cli2.run("images", "-q").stdout.strip() == ""
    assert store_leftovers(d2) == []


def test_invalid_registry_mirror_is_refused(fresh_daemon):
    for bad in ("127.0.0.1:5000", "http://127.0.0.1:5000/path", "ftp://mirror"):
        d = fresh_daemon(config=json.dumps({"registry-mirrors": [bad]}), start=False)
        d.start(wait=False)
        assert d.proc.wait(10) != 0
        d.log.close()
        d.proc = None
        assert "invalid mirror" in d.read_log(), d.read_log()


def test_push_all_tags_then_pull_all_tags_and_quiet(fresh_daemon, registry):
    d, cli = daemon_cli(fresh_daemon)
    host = registry.host
    cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
    cli.run("load", "-i", os.path.join(FIX, "layered-docker-archive.tar"))
    cli.run("tag", "busybox", host + "/multi:one")
    cli.run("tag", "layered", host + "/multi:two")
    p = cli.run("push", "--all-tags", host + "/multi")
    assert "one: digest: sha256:" in p.stdout and "two: digest: sha256:" in p.stdout
    cli.run("rmi", "-f", BUSYBOX_ID, LAYERED_ID)
    p = cli.run("pull", "-a", host + "/multi")
    assert "Downloaded newer image for %s/multi" % host in p.stdout
    tags = sorted(cli.run("images", "--format", "{{.Tag}} {{.ID}}", host + "/multi").stdout.split("\n"))
    assert tags[-2:] == ["one " + BUSYBOX_ID[7:19], "two " + LAYERED_ID[7:19]]
    cli.run("rmi", "-f", BUSYBOX_ID, LAYERED_ID)
    p = cli.run("pull", "-q", host + "/multi:two")
    assert p.stdout.strip() == host + "/multi:two"
