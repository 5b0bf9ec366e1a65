"""Local registries for the distribution tests: Debian's docker-registry on 127.0.0.1 with
its own storage (optionally htpasswd Basic auth and TLS), a small front proxy that adds
what a stock registry cannot do on demand (a Bearer token server, corrupted or cut blob
transfers, request logs), and helpers to upload images over the registry API directly.
Nothing here talks to anything but 127.0.0.1."""
import hashlib
import http.client
import http.server
import json
import os
import shutil
import socket
import socketserver
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse

REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """One docker-registry process on 127.0.0.1:<port>."""

    def __init__(self, storage=None, htpasswd=None, tls=None, port=None):
        self.base = tempfile.mkdtemp(prefix="berth-registry-")
        self.storage = storage or os.path.join(self.base, "storage")
        os.makedirs(self.storage, exist_ok=True)
        self.port = port or free_port()
        self.htpasswd = htpasswd
        self.tls = tls
        self.proc = None
        self.log_path = os.path.join(self.base, "registry.log")

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    @property
    def url(self):
        return ("https://" if self.tls else "http://") + self.host

    def _config(self):
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "storage:",
            "  filesystem:",
            "    rootdirectory: %s" % self.storage,
            "  delete:",
            "    enabled: true",
            "http:",
            "  addr: 127.0.0.1:%d" % self.port,
            "  secret: berth-test-secret",
        ]
        if self.tls:
            lines += ["  tls:", "    certificate: %s" % self.tls[0], "    key: %s" % self.tls[1]]
        if self.htpasswd:
            lines += ["auth:", "  htpasswd:", "    realm: berth-test", "    path: %s" % self.htpasswd]
        return "\n".join(lines) + "\n"

    def start(self):
        cfg = os.path.join(self.base, "config.yml")
        with open(cfg, "w") as f:
            f.write(self._config())
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("docker-registry exited:\n" + open(self.log_path).read())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not listen")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    # ---- the registry API, directly (plain http registries only) ----

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), data

    def put_blob(self, repo, data):
        d = sha256(data)
        st, h, _ = self.request("POST", "/v2/%s/blobs/uploads/" % repo)
        assert st == 202, st
        loc = h["Location"]
        u = urllib.parse.urlsplit(loc)
        path = u.path + "?" + (u.query + "&" if u.query else "") + "digest=" + d
        st, _, body = self.request("PUT", path, body=data, headers={"Content-Type": "application/octet-stream"})
        assert st == 201, (st, body)
        return d

    def put_manifest(self, repo, ref, data, media_type):
        st, h, body = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=data,
                                   headers={"Content-Type": media_type})
        assert st == 201, (st, body)
        return h.get("Docker-Content-Digest")

    def get_manifest(self, repo, ref, accept=None):
        accept = accept or ", ".join([
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.index.v1+json"])
        return self.request("GET", "/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": accept})


def extract_storage(tar_path, dest):
    with tarfile.open(tar_path) as t:
        t.extractall(dest)
    return dest


def docker_archive_blobs(path):
    """(config bytes, [layer tar bytes]) of a docker-archive made by `docker save`."""
    with tarfile.open(path) as t:
        manifest = json.load(t.extractfile("manifest.json"))[0]
        config = t.extractfile(manifest["Config"]).read()
        layers = [t.extractfile(l).read() for l in manifest["Layers"]]
    return config, layers


def gzip_bytes(data):
    import gzip
    return gzip.compress(data, mtime=0)


def upload_image(reg, repo, tag, config, layers, oci=False, layer_media=None):
    """Upload config + (already compressed) layers and a manifest; returns (digest, manifest bytes)."""
    cdesc = {"mediaType": "application/vnd.oci.image.config.v1+json" if oci
             else "application/vnd.docker.container.image.v1+json",
             "size": len(config), "digest": reg.put_blob(repo, config)}
    lmt = layer_media or ("application/vnd.oci.image.layer.v1.tar+gzip" if oci
                          else "application/vnd.docker.image.rootfs.diff.tar.gzip")
    ldesc = [{"mediaType": lmt, "size": len(l), "digest": reg.put_blob(repo, l)} for l in layers]
    mt = "application/vnd.oci.image.manifest.v1+json" if oci \
        else "application/vnd.docker.distribution.manifest.v2+json"
    m = {"schemaVersion": 2, "mediaType": mt, "config": cdesc, "layers": ldesc}
    body = json.dumps(m, indent=3).encode()
    reg.put_manifest(repo, tag, body, mt)
    return sha256(body), body


def upload_index(reg, repo, tag, entries, oci=True):
    """entries: [(manifest bytes, media type, platform dict)] already uploaded by digest."""
    mt = "application/vnd.oci.image.index.v1+json" if oci \
        else "application/vnd.docker.distribution.manifest.list.v2+json"
    idx = {"schemaVersion": 2, "mediaType": mt, "manifests": [
        {"mediaType": emt, "size": len(b), "digest": sha256(b), "platform": p} for b, emt, p in entries]}
    body = json.dumps(idx, indent=2).encode()
    reg.put_manifest(repo, tag, body, mt)
    return sha256(body), body


# ---- a front proxy with faults and a token server ----

class FrontProxy:
    """HTTP proxy in front of a registry. Knobs (attributes, change them any time):
    corrupt_blob: digest whose body gets one byte flipped;
    cut_blob: (digest, nbytes): the first GET of that blob ends after nbytes (then normal);
    bearer: require `Authorization: Bearer <token>`, tokens from /token (Basic creds
    checked against bearer_users if set); refresh_tokens: hand out an OAuth2 refresh token
    when a GET /token asks for an offline token (as Docker Hub does) and accept it back in
    a POST /token form (grant_type=refresh_token); token_forms: the POSTed forms;
    requests: list of (method, path, headers)."""

    def __init__(self, upstream_port, port=None):
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.manifest_override = {}  # path -> (content type, body)
        self.on_blob = None  # callable(digest) run before a blob GET is forwarded
        self.corrupt_blob = None
        self.cut_blob = None
        self.bearer = False
        self.bearer_users = None
        self.tokens_issued = []
        self.refresh_tokens = False
        self.refresh_issued = {}  # refresh token -> user
        self.token_forms = []
        self.requests = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status, headers, body):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self):
                proxy.requests.append((self.command, self.path, dict(self.headers)))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path.startswith("/token"):
                    return self._token(body)
                if self.path in proxy.manifest_override:
                    ct, data = proxy.manifest_override[self.path]
                    return self._send(200, [("Content-Type", ct), ("Docker-Content-Digest", sha256(data))], data)
                if "/blobs/sha256:" in self.path and self.command == "GET" and proxy.on_blob:
                    if proxy.on_blob(self.path.rsplit("/", 1)[-1], self) is False:
                        return
                if proxy.bearer:
                    auth = self.headers.get("Authorization", "")
                    if not auth.startswith("Bearer ") or auth[7:] not in proxy.tokens_issued:
                        scope = ""
                        parts = self.path.split("/")
                        if len(parts) > 3 and parts[1] == "v2":
                            # /v2/<name...>/(manifests|blobs|tags)/...
                            for i, p in enumerate(parts):
                                if p in ("manifests", "blobs", "tags") and i > 2:
                                    act = "pull" if self.command in ("GET", "HEAD") else "pull,push"
                                    scope = ',scope="repository:%s:%s"' % ("/".join(parts[2:i]), act)
                                    break
                        return self._send(401, [
                            ("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:%d/token",service="berth-test"%s'
                             % (proxy.port, scope)),
                            ("Content-Type", "application/json")],
                            b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}')
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "authorization", "connection")}
                c = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    c.request(self.command, self.path,
                              body=body if body or self.command in ("PUT", "POST", "PATCH") else None, headers=headers)
                    r = c.getresponse()
                except OSError:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = r.read()
                c.close()
                out_headers = [(k, v) for k, v in r.getheaders()
                               if k.lower() not in ("content-length", "connection", "transfer-encoding")]
                digest = self.path.rsplit("/", 1)[-1]
                if "/blobs/" in self.path and self.command == "GET" and r.status in (200, 206):
                    if proxy.corrupt_blob == digest and data:
                        data = bytes([data[0] ^ 0xff]) + data[1:]
                    if proxy.cut_blob and proxy.cut_blob[0] == digest:
                        n = proxy.cut_blob[1]
                        proxy.cut_blob = None
                        self.send_response(r.status)
                        for k, v in out_headers:
                            self.send_header(k, v)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[:n])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                if r.getheader("Location", "").startswith("http://127.0.0.1:%d" % proxy.upstream_port):
                    out_headers = [(k, v.replace(":%d" % proxy.upstream_port, ":%d" % proxy.port))
                                   if k.lower() == "location" else (k, v) for k, v in out_headers]
                self._send(r.status, out_headers, data)

            def _token(self, body):
                import base64
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                refresh = None
                if self.command == "POST":
                    form = urllib.parse.parse_qs(body.decode())
                    proxy.token_forms.append(form)
                    if (not proxy.refresh_tokens or form.get("grant_type") != ["refresh_token"]
                            or form.get("refresh_token", [""])[0] not in proxy.refresh_issued):
                        return self._send(401, [("Content-Type", "application/json")],
                                          b'{"details":"invalid refresh token"}')
                    q = form
                elif proxy.bearer_users is not None:
                    auth = self.headers.get("Authorization", "")
                    ok = False
                    if auth.startswith("Basic "):
                        user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                        ok = proxy.bearer_users.get(user) == pw
                    if not ok:
                        return self._send(401, [("Content-Type", "application/json")],
                                          b'{"details":"incorrect username or password"}')
                    if proxy.refresh_tokens and q.get("offline_token") == ["true"]:
                        refresh = "refresh-%s-%d" % (user, len(proxy.refresh_issued))
                        proxy.refresh_issued[refresh] = user
                tok = "tok-%d-%s" % (len(proxy.tokens_issued), ",".join(q.get("scope", [])))
                proxy.tokens_issued.append(tok)
                doc = {"token": tok, "expires_in": 300}
                if refresh:
                    doc["refresh_token"] = refresh
                self._send(200, [("Content-Type", "application/json")], json.dumps(doc).encode())

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
