"""Workload of issue 16: what TLS costs a request. A fresh daemon serves its unix socket and
a mutual-TLS TCP listener on 127.0.0.1 (--tlsverify, certificates made here with openssl);
docker-py's APIClient calls GET /version over each, reusing its kept-alive connection, and
the workload is the difference of the two means, in ms. Imported at the end of workloads.py.
"""
import os
import socket
import subprocess
import tempfile
import time

from workloads import Goal, Workload

CALLS = 200
_pki = {}


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_pki(root):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, in @root."""
    if root in _pki:
        return _pki[root]
    d = tempfile.mkdtemp(prefix="tls-", dir=root)
    for name in ("ca", "server", "client"):
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + "-key.pem", cwd=d)
    _openssl("req", "-x509", "-new", "-key", "ca-key.pem", "-subj", "/CN=bench CA", "-days", "2", "-out", "ca.pem", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")):
        _openssl("req", "-new", "-key", name + "-key.pem", "-subj", "/CN=" + name, "-out", name + ".csr", cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                  "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)
    _pki[root] = d
    return d


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _mean_version_ms(client, n):
    client.version()  # the connection (and its TLS session) is made here, untimed
    t0 = time.perf_counter()
    for _ in range(n):
        client.version()
    return (time.perf_counter() - t0) * 1000.0 / n


def tls_version_overhead(daemon):
    """Mean GET /version over mutual TLS minus the same over the unix socket, both on one
    kept-alive docker-py connection, in ms."""
    import docker as dockerpy
    pki = _make_pki(daemon.env.root)
    port = _free_port()
    d = daemon.fresh("tls")
    base_argv = d.argv
    d.argv = lambda: base_argv() + ["-H", "tcp://127.0.0.1:%d" % port, "--tlsverify",
                                    "--tlscacert", os.path.join(pki, "ca.pem"),
                                    "--tlscert", os.path.join(pki, "server.pem"),
                                    "--tlskey", os.path.join(pki, "server-key.pem")]
    # requests lets REQUESTS_CA_BUNDLE override the CA a session was given
    saved = {k: os.environ.pop(k) for k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if k in os.environ}
    try:
        d.start()
        tls = dockerpy.tls.TLSConfig(client_cert=(os.path.join(pki, "client.pem"), os.path.join(pki, "client-key.pem")),
                                     ca_cert=os.path.join(pki, "ca.pem"), verify=True)
        over_tls = dockerpy.APIClient(base_url="https://127.0.0.1:%d" % port, tls=tls, version="1.41", timeout=30)
        over_unix = dockerpy.APIClient(base_url=d.host, version="1.41", timeout=30)
        try:
            # alternate, so that both see the same machine
            a = b = 0.0
            for _ in range(2):
                a += _mean_version_ms(over_tls, CALLS // 2)
                b += _mean_version_ms(over_unix, CALLS // 2)
            return (a - b) / 2
        finally:
            over_tls.close()
            over_unix.close()
    finally:
        os.environ.update(saved)
        d.discard()


WORKLOADS_TLS = [
    Workload("TLS cost of docker version (kept alive)", "ms", tls_version_overhead,
             goal=Goal("≤ 2 ms", max_value=2.0), decimals=3,
             description="mean `GET /version` over mutual TLS (--tlsverify) minus over the unix socket, docker-py "
                         "APIClient reusing its connection"),
]
