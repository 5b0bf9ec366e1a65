#!/usr/bin/python3
"""Crash torture for berthd (issue 17): N concurrent clients (threads, docker-py's
low-level APIClient) create, start, exec, stop, remove, commit, pull, push, load, make
and remove volumes and networks, while the driver kills berthd with SIGKILL at random
moments (or, in the second mode, a random container's shim), starts it again and checks
the invariants:

- every container a client got an ID for exists, in a state that agrees with what the
  client was told, unless its removal was acknowledged; nothing is left "removing" or
  "dead"; a running container's pid is alive;
- the pinned containers (started before the torture) were never disturbed: same pid and
  StartedAt, and their output goes on;
- no shim, bundle, mount, network namespace, cgroup, veth or nftables bridge entry
  belongs to nothing, and no spool file is left in the data root's tmp/;
- every image, volume and network a client was told exists is there, every listed image
  inspects; networks' addresses are unique;
- right after each kill, `berthd --check=quick` on the crashed store finds no problem
  (orphans are what start-up removes), and every --full-check-every cycles berthd is
  stopped and `berthd --check` (full: diff IDs and blob digests) must find it clean.

Traffic goes only to 127.0.0.1 (a local docker-registry) and to the containers and
bridges the test's own berthd makes. It stops by itself after --cycles or --max-seconds.
Prints one line per violation and ends with "torture: N cycles, M violations" and
"N passed, M failed" (cycles without and with a violation)."""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from conftest import BERTHD, TESTDATA, Berthd  # noqa: E402
from registry import Registry  # noqa: E402

import http.client  # noqa: E402
import docker  # noqa: E402
import requests  # noqa: E402
import urllib3  # noqa: E402

FIXTURE = os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar")
MAX_CONTAINERS_PER_CLIENT = 6
MAX_VOLUMES_PER_CLIENT = 3
# What a client meets when berthd dies under it: the request or its answer cut short.
DOWN_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError,
               urllib3.exceptions.ProtocolError, http.client.HTTPException, ConnectionError, OSError)


def log(msg):
    sys.stdout.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stdout.flush()


def exec_output(api, exec_id):
    """docker exec's output, read through the HTTP response's own buffered reader:
    APIClient.exec_start reads the raw socket under it and so loses what arrived with the
    101 headers (docker-py issues 2042 and 3332; a fast exec hits it with dockerd too)."""
    res = api._post_json(api._url("/exec/{0}/start", exec_id), headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                         data={"Tty": False, "Detach": False}, stream=True)
    api._raise_for_status(res)
    data = res.raw._fp.fp.read()
    res.close()
    out = b""
    while len(data) >= 8:
        n = int.from_bytes(data[4:8], "big")
        out += data[8:8 + n]
        data = data[8 + n:]
    return out


def settled_listdir(path, timeout=10):
    """os.listdir once the background deletions of removed containers (".rm-<id>") are done."""
    deadline = time.time() + timeout
    while True:
        names = os.listdir(path)
        if not any(n.startswith(".rm-") for n in names) or time.time() > deadline:
            return names
        time.sleep(0.02)


def spare_shim_bundle(pid, containers_dir):
    """The container whose bundle directory (CONTAINERS_DIR/ID) shim @pid holds open."""
    try:
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        if os.path.dirname(target) == containers_dir:
            return os.path.basename(target)
    return None


class Ledger:
    """What the clients were told, shared by all of them (each name is one client's)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ctrs = {}        # id -> {"name", "expect": created|running|exited|any, "removed": False|"maybe"}
        self.maybe_names = set()  # creates cut short: the container may or may not exist
        self.images = {}      # reference or id -> True (acknowledged, not removed)
        self.volumes = {}     # name -> "present" | "maybe"
        self.networks = {}    # name -> "present" | "maybe"
        self.ever_ids = set()
        self.killed_shims = set()
        self.starts_304 = 0
        self.shim_exit_seen = {}  # id -> when the driver saw a killed shim's exit recorded (None: not yet)
        self.ops = {}
        self.errors = {}
        self.server_errors = []
        self.reasons = {}

    def count(self, op, ok, why=None):
        with self.lock:
            d = self.ops if ok else self.errors
            d[op] = d.get(op, 0) + 1
            if why:
                key = "%s: %s" % (op, why)
                self.reasons[key] = self.reasons.get(key, 0) + 1


class Client(threading.Thread):
    def __init__(self, idx, tort):
        super().__init__(daemon=True)
        self.idx = idx
        self.t = tort
        self.rng = random.Random(tort.seed * 1000 + idx)
        self.api = docker.APIClient(base_url=tort.d.host, version="1.45", timeout=30)
        self.n = 0
        self.mine = []     # container ids
        self.imgs = []     # committed references
        self.vols = []
        self.nets = []

    def name(self, kind):
        self.n += 1
        return "t%s%d-%d" % (kind, self.idx, self.n)

    def run(self):
        ops = [(self.op_run, 6), (self.op_exec, 3), (self.op_stop, 2), (self.op_rm, 3), (self.op_commit, 1),
               (self.op_pull, 1), (self.op_push, 1), (self.op_load, 1), (self.op_volume, 2), (self.op_network, 2),
               (self.op_start, 1)]
        if self.t.args.ops:
            ops = [(f, w) for f, w in ops if f.__name__[3:] in self.t.args.ops.split(",")]
        weighted = [f for f, w in ops for _ in range(w)]
        while not self.t.stopping:
            self.t.gate.wait()
            if self.t.stopping:
                break
            with self.t.inflight_cv:
                if not self.t.gate.is_set():
                    continue
                self.t.inflight += 1
            op = self.rng.choice(weighted)
            try:
                op()
                self.t.ledger.count(op.__name__, True)
            except DOWN_ERRORS as e:
                self.t.ledger.count(op.__name__, False, "%s %s" % (type(e).__name__, ("%s" % e)[:70]))
                time.sleep(0.2)  # berthd is down: it is back within a second
            except docker.errors.APIError as e:
                self.t.ledger.count(op.__name__, False, ("%s" % e)[:90])
                code = e.response.status_code if e.response is not None else 0
                if code >= 500 and not self.t.expected_5xx(e):
                    with self.t.ledger.lock:
                        self.t.ledger.server_errors.append("%s: %s" % (op.__name__, e))
            except Exception as e:  # a bug in the driver or an unexpected answer
                self.t.ledger.count(op.__name__, False)
                with self.t.ledger.lock:
                    self.t.ledger.server_errors.append("%s: %r\n%s" % (op.__name__, e, traceback.format_exc()))
            finally:
                with self.t.inflight_cv:
                    self.t.inflight -= 1
                    self.t.inflight_cv.notify_all()

    # ---- the ledger's bookkeeping around one call ----

    def ctr(self, cid):
        return self.t.ledger.ctrs.get(cid)

    def set_expect(self, cid, expect):
        with self.t.ledger.lock:
            c = self.ctr(cid)
            if c:
                c["expect"] = expect
                c["hist"].append("%.3f %s" % (time.time(), expect))

    def note(self, cid, what):
        with self.t.ledger.lock:
            c = self.ctr(cid)
            if c:
                c["hist"].append("%.3f client %d %s" % (time.time(), self.idx, what))

    def call(self, cid, after, fn):
        """@fn changes @cid's state: "any" while it runs (a kill may cut it short),
        @after once it is acknowledged, what it was if it was refused or if @fn returns
        304 (a start's Not Modified: it changed nothing, so what was expected still is;
        only start_ctr() returns a status: a stop's 304, stopped already, agrees with its
        @after anyway)."""
        with self.t.ledger.lock:
            before = self.ctr(cid)["expect"]
            seen = self.t.ledger.shim_exit_seen
            # sent before the driver saw the exit of a shim it killed recorded: the start
            # may find the container still running (see start_ctr())
            legit_304 = cid in seen and (seen[cid] is None or time.time() < seen[cid])
        self.set_expect(cid, "any")
        try:
            status = fn()
        except docker.errors.APIError:
            self.set_expect(cid, before)
            raise
        if status == 304:
            self.note(cid, "answered 304")
            with self.t.ledger.lock:
                self.t.ledger.starts_304 += 1  # in the summary: how often the race was met
            self.set_expect(cid, before)
            if not legit_304:
                self.t.violation("start of %s answered 304 (already running), but the client was told it is %s "
                                 "and no killed shim's end was pending" % (cid[:12], before))
        else:
            self.set_expect(cid, after)

    def start_ctr(self, cid):
        """POST /containers/ID/start, its status: docker-py's start() does not tell 204
        (started) from 304 (already running). The difference matters right after the
        driver killed the container's shim: until berthd has handled the shim's end, the
        container is still running for it (its init lives until berthd kills it) and a
        start answers 304, as dockerd does before containerd's exit event (137) arrives;
        the exit that follows is the kill's, not a run the start began."""
        res = self.api._post(self.api._url("/containers/{0}/start", cid))
        self.api._raise_for_status(res)
        return res.status_code

    # ---- operations ----

    def op_run(self):
        if len(self.mine) >= MAX_CONTAINERS_PER_CLIENT:  # the store stays the same size over a long run
            return self.op_rm()
        name = self.name("c")
        with self.t.ledger.lock:
            self.t.ledger.maybe_names.add(name)
        hc = self.api.create_host_config(binds={self.rng.choice(self.vols): {"bind": "/v", "mode": "rw"}}
                                         if self.vols and self.rng.random() < 0.3 else None)
        kwargs = {}
        if self.nets and self.rng.random() < 0.3:
            kwargs["networking_config"] = self.api.create_networking_config(
                {self.rng.choice(self.nets): self.api.create_endpoint_config()})
        c = self.api.create_container("busybox", ["sh", "-c", "echo started; exec sleep 3600"], name=name,
                                      host_config=hc, stop_signal="SIGKILL", **kwargs)
        cid = c["Id"]
        with self.t.ledger.lock:
            self.t.ledger.maybe_names.discard(name)
            self.t.ledger.ctrs[cid] = {"name": name, "expect": "created", "removed": False, "hist": []}
            self.t.ledger.ever_ids.add(cid)
        self.mine.append(cid)
        if self.rng.random() < 0.8:
            self.call(cid, "running", lambda: self.start_ctr(cid))

    def pick(self, want=None):
        with self.t.ledger.lock:
            cands = [cid for cid in self.mine if self.ctr(cid) and not self.ctr(cid)["removed"]
                     and (want is None or self.ctr(cid)["expect"] == want)]
        return self.rng.choice(cands) if cands else None

    def op_start(self):
        cid = self.pick("exited") or self.pick("created")
        if cid:
            self.call(cid, "running", lambda: self.start_ctr(cid))

    def op_exec(self):
        cid = self.pick("running")
        if not cid:
            return
        self.note(cid, "exec")
        ex = self.api.exec_create(cid, ["echo", "exec-ok"])
        out = exec_output(self.api, ex["Id"])
        info = self.api.exec_inspect(ex["Id"])
        self.note(cid, "exec done")
        with self.t.ledger.lock:
            if cid in self.t.ledger.killed_shims:
                return  # its container went with the shim meanwhile
        if out.strip() != b"exec-ok" or info.get("ExitCode") != 0:
            self.t.violation("exec in %s answered %r (exit %s)" % (cid[:12], out, info.get("ExitCode")))

    def op_stop(self):
        cid = self.pick("running")
        if cid:
            self.call(cid, "exited", lambda: self.api.stop(cid, timeout=1))

    def op_rm(self):
        cid = self.pick()
        if not cid:
            return
        with self.t.ledger.lock:
            self.t.ledger.ctrs[cid]["removed"] = "maybe"
        try:
            self.api.remove_container(cid, force=True, v=self.rng.random() < 0.5)
        except docker.errors.NotFound:
            self.t.violation("rm -f of %s: not found, but its removal was never acknowledged" % cid[:12])
            raise
        with self.t.ledger.lock:
            self.t.ledger.ctrs[cid]["removed"] = True
        self.mine.remove(cid)

    def op_commit(self):
        cid = self.pick("exited") or self.pick("running")
        if not cid:
            return
        ref = "torture/c%d" % self.idx
        tag = "v%d" % self.n
        self.n += 1
        self.note(cid, "commit")
        img = self.api.commit(cid, repository=ref, tag=tag)
        self.note(cid, "commit done")
        with self.t.ledger.lock:
            self.t.ledger.images["%s:%s" % (ref, tag)] = img["Id"]
        self.imgs.append("%s:%s" % (ref, tag))
        if len(self.imgs) > 3:  # keep the store small: old ones go
            old = self.imgs.pop(0)
            with self.t.ledger.lock:
                self.t.ledger.images[old] = "maybe"
            try:
                self.api.remove_image(old)
                with self.t.ledger.lock:
                    self.t.ledger.images.pop(old, None)
            except docker.errors.APIError as e:
                if e.response is not None and e.response.status_code == 409:  # a container uses it
                    with self.t.ledger.lock:
                        self.t.ledger.images[old] = "present"
                    self.imgs.append(old)
                else:
                    raise

    def op_pull(self):
        ref = "%s/torture/busybox" % self.t.reg.host
        for _ in self.api.pull(ref, tag="base", stream=True, decode=True):
            pass
        with self.t.ledger.lock:
            self.t.ledger.images["%s:base" % ref] = True

    def op_push(self):
        if not self.imgs:
            return
        src = self.rng.choice(self.imgs)
        dst = "%s/torture/c%d" % (self.t.reg.host, self.idx)
        self.api.tag(src, dst, tag="p")
        for line in self.api.push(dst, tag="p", stream=True, decode=True):
            if "error" in line:
                raise docker.errors.APIError(line["error"])

    def op_load(self):
        with open(FIXTURE, "rb") as f:
            for _ in self.api.load_image(f.read()):
                pass
        with self.t.ledger.lock:
            self.t.ledger.images["busybox:latest"] = True

    def op_volume(self):
        if self.vols and (self.rng.random() < 0.4 or len(self.vols) >= MAX_VOLUMES_PER_CLIENT):
            v = self.vols.pop(self.rng.randrange(len(self.vols)))
            with self.t.ledger.lock:
                self.t.ledger.volumes[v] = "maybe"
            try:
                self.api.remove_volume(v)
            except docker.errors.APIError as e:
                if e.response is not None and e.response.status_code == 409:  # in use
                    with self.t.ledger.lock:
                        self.t.ledger.volumes[v] = "present"
                    self.vols.append(v)
                    return
                raise
            with self.t.ledger.lock:
                self.t.ledger.volumes.pop(v, None)
            return
        v = self.name("v")
        with self.t.ledger.lock:
            self.t.ledger.volumes[v] = "maybe"
        self.api.create_volume(v)
        with self.t.ledger.lock:
            self.t.ledger.volumes[v] = "present"
        self.vols.append(v)

    def op_network(self):
        r = self.rng.random()
        if self.nets and r < 0.3:
            n = self.nets.pop(self.rng.randrange(len(self.nets)))
            with self.t.ledger.lock:
                self.t.ledger.networks[n] = "maybe"
            try:
                self.api.remove_network(n)
            except docker.errors.APIError as e:
                if e.response is not None and e.response.status_code in (403, 409):  # in use
                    with self.t.ledger.lock:
                        self.t.ledger.networks[n] = "present"
                    self.nets.append(n)
                    return
                raise
            with self.t.ledger.lock:
                self.t.ledger.networks.pop(n, None)
            return
        if self.nets and r < 0.7:
            cid = self.pick("running")
            if cid:
                n = self.rng.choice(self.nets)
                try:
                    self.note(cid, "connect " + n)
                    self.api.connect_container_to_network(cid, n)
                    if self.rng.random() < 0.5:
                        self.note(cid, "disconnect " + n)
                        self.api.disconnect_container_from_network(cid, n)
                    self.note(cid, "network done")
                except docker.errors.APIError as e:
                    if e.response is None or e.response.status_code >= 500:
                        raise
            return
        if len(self.nets) >= 2:
            return
        n = self.name("n")
        with self.t.ledger.lock:
            self.t.ledger.networks[n] = "maybe"
        self.api.create_network(n, driver="bridge")
        with self.t.ledger.lock:
            self.t.ledger.networks[n] = "present"
        self.nets.append(n)


class Torture:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed if args.seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(self.seed)
        self.d = Berthd()
        self.reg = Registry()
        self.ledger = Ledger()
        self.gate = threading.Event()
        self.inflight = 0
        self.inflight_cv = threading.Condition()
        self.stopping = False
        self.violations = []
        self.cycle = 0
        self.bad_cycles = set()
        self.pinned = {}
        self.kills = []

    def violation(self, msg):
        line = "VIOLATION cycle %d: %s" % (self.cycle, msg)
        with self.ledger.lock:
            self.violations.append(line)
            self.bad_cycles.add(self.cycle)
        log(line)

    def expected_5xx(self, e):
        text = str(e)
        # A push or pull while berthd was killed meets a registry conversation cut short.
        return "connection" in text.lower() and "registry" in text.lower()

    # ---- daemon control ----

    def api(self):
        return docker.APIClient(base_url=self.d.host, version="1.45", timeout=60)

    def berthd_check(self, *flags):
        p = subprocess.run([BERTHD, "--data-root", self.d.data_root, "--exec-root", self.d.exec_root, "--pidfile",
                            self.d.pidfile, "--config-file", self.d.config_file, *self.d.net_args, *flags],
                           capture_output=True, text=True, timeout=600)
        return p.returncode, p.stdout + p.stderr

    def pause_clients(self):
        self.gate.clear()
        deadline = time.time() + 120
        with self.inflight_cv:
            while self.inflight > 0 and time.time() < deadline:
                self.inflight_cv.wait(0.5)
            if self.inflight > 0:
                self.violation("%d client operations still hang 120 s after the clients were paused" % self.inflight)

    def resume_clients(self):
        self.gate.set()

    # ---- set-up ----

    def setup(self):
        self.d.start()
        self.reg.start()
        api = self.api()
        with open(FIXTURE, "rb") as f:
            for _ in api.load_image(f.read()):
                pass
        ref = "%s/torture/busybox" % self.reg.host
        api.tag("busybox:latest", ref, tag="base")
        for line in api.push(ref, tag="base", stream=True, decode=True):
            if "error" in line:
                raise RuntimeError(line["error"])
        # Pinned containers: their pid, StartedAt and output must go on through every kill.
        for i in range(2):
            hc = api.create_host_config(port_bindings={80: ("127.0.0.1", None)} if i == 0 else None)
            c = api.create_container("busybox", ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"],
                                     name="pinned%d" % i, host_config=hc, ports=[80] if i == 0 else None)
            api.start(c["Id"])
            st = api.inspect_container(c["Id"])["State"]
            self.pinned[c["Id"]] = {"pid": st["Pid"], "started": st["StartedAt"], "last": -1}
            self.ledger.ever_ids.add(c["Id"])
        time.sleep(0.5)
        self.check_pinned(api)

    # ---- invariants ----

    def check_pinned(self, api):
        for cid, p in self.pinned.items():
            st = api.inspect_container(cid)["State"]
            if st["Pid"] != p["pid"] or st["StartedAt"] != p["started"] or not st["Running"]:
                self.violation("pinned %s disturbed: pid %s -> %s, StartedAt %s -> %s, running %s"
                               % (cid[:12], p["pid"], st["Pid"], p["started"], st["StartedAt"], st["Running"]))
                p["pid"], p["started"] = st["Pid"], st["StartedAt"]
            logs = api.logs(cid, tail=1).decode(errors="replace").split()
            last = int(logs[-1]) if logs and logs[-1].isdigit() else -1
            if last <= p["last"]:
                time.sleep(0.5)
                logs = api.logs(cid, tail=1).decode(errors="replace").split()
                last = int(logs[-1]) if logs and logs[-1].isdigit() else -1
                if last <= p["last"]:
                    self.violation("pinned %s: output stopped at tick %d" % (cid[:12], p["last"]))
            p["last"] = last

    def check_api(self, api):
        L = self.ledger
        listed = {c["Id"]: c for c in api.containers(all=True)}
        for cid, c in listed.items():
            if c["State"] not in ("created", "running", "exited"):
                self.violation("container %s (%s) is %s" % (cid[:12], c["Names"], c["State"]))
        names = {n.lstrip("/") for c in listed.values() for n in c["Names"]}
        with L.lock:
            ctrs = {cid: dict(v) for cid, v in L.ctrs.items()}
            maybe_names = set(L.maybe_names)
        for cid, c in ctrs.items():
            if c["removed"] is True:
                if cid in listed:
                    self.violation("container %s exists after its removal was acknowledged" % cid[:12])
                continue
            if cid not in listed:
                if c["removed"] != "maybe":
                    self.violation("container %s (%s) is gone, but no removal was acknowledged" % (cid[:12], c["name"]))
                continue
            st = api.inspect_container(cid)["State"]
            # A removal cut short may have killed it before the record went: any state.
            want = c["expect"] if c["removed"] is False else "any"
            if want != "any" and st["Status"] != want:
                self.violation("container %s is %s, but the client was told %s (exit code %s, error %r, started %s, "
                               "finished %s)" % (cid[:12], st["Status"], want, st.get("ExitCode"), st.get("Error"),
                                                 st.get("StartedAt"), st.get("FinishedAt")))
                with L.lock:
                    L.ctrs[cid]["expect"] = "any"  # reported once
                    log("  history of %s: %s; kills: %s" % (cid[:12], L.ctrs[cid]["hist"], self.kills[-3:]))
            if st["Running"] and not os.path.exists("/proc/%d" % st["Pid"]):
                self.violation("container %s is running with pid %d, which is gone" % (cid[:12], st["Pid"]))
        for n in names:
            if re.match(r"^tc\d+-\d+$", n) and n not in maybe_names and n not in {c["name"] for c in ctrs.values()}:
                self.violation("container %s exists, but no client was given its ID and no create was cut short" % n)
        # Images, volumes, networks the clients were told exist.
        with L.lock:
            images = dict(L.images)
            volumes = dict(L.volumes)
            networks = dict(L.networks)
        for ref, v in images.items():
            if v == "maybe":
                continue
            try:
                api.inspect_image(ref)
            except docker.errors.NotFound:
                self.violation("image %s is gone, but no removal was acknowledged" % ref)
        for img in api.images(all=True):
            try:
                api.inspect_image(img["Id"])
            except docker.errors.APIError as e:
                self.violation("listed image %s does not inspect: %s" % (img["Id"][:19], e))
        vols = {v["Name"] for v in (api.volumes().get("Volumes") or [])}
        for v, state in volumes.items():
            if state == "present" and v not in vols:
                self.violation("volume %s is gone, but no removal was acknowledged" % v)
        nets = {n["Name"]: n for n in api.networks()}
        for n, state in networks.items():
            if state == "present" and n not in nets:
                self.violation("network %s is gone, but no removal was acknowledged" % n)
        for n in nets.values():
            full = api.inspect_network(n["Id"])
            ips = [e.get("IPv4Address") for e in (full.get("Containers") or {}).values() if e.get("IPv4Address")]
            if len(ips) != len(set(ips)):
                self.violation("network %s hands one address to two containers: %s" % (n["Name"], sorted(ips)))
            for ecid in (full.get("Containers") or {}):
                if ecid not in listed or listed[ecid]["State"] not in ("running", "paused"):
                    self.violation("network %s has an endpoint of %s, which does not run" % (n["Name"], ecid[:12]))
        return listed

    def mounts(self):
        out = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                out.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4]))
        return out

    def check_system(self, listed):
        """(settled_listdir: a removal renames a container's directories to ".rm-<id>" and
        deletes them in the background; one still there after 10 s is a violation.)"""
        d = self.d
        running = {cid for cid, c in listed.items() if c["State"] in ("running", "paused")}
        # Shims: every berth-shim of this exec root serves a running container.
        shim_bundles = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if len(argv) < 2 or not argv[0].endswith(b"berth-shim"):
                continue
            if argv[1].startswith(d.exec_root.encode() + b"/"):
                shim_bundles[os.path.basename(argv[1].decode())] = int(pid)
            elif argv[1] == b"--spare":
                # a spare shim names no bundle in its argv: the one it was handed is the
                # directory it holds open (none yet: still a spare, nobody's)
                cid = spare_shim_bundle(pid, os.path.join(d.exec_root, "containers"))
                if cid:
                    shim_bundles[cid] = int(pid)
        for cid, pid in shim_bundles.items():
            if cid not in running:
                self.violation("shim %d serves %s, which does not run" % (pid, cid[:12]))
        for cid in running:
            if cid not in shim_bundles:
                self.violation("running container %s has no shim" % cid[:12])
        # Bundles, mounts, network namespaces.
        for b in settled_listdir(os.path.join(d.exec_root, "containers")):
            if b not in listed:
                self.violation("bundle %s belongs to no container" % b[:12])
        ctr_root = os.path.join(d.data_root, "containers") + "/"
        for mp in self.mounts():
            if mp.startswith(ctr_root):
                cid = mp[len(ctr_root):].split("/")[0]
                if cid not in running:
                    self.violation("mount %s belongs to no running container" % mp)
            elif mp.startswith(os.path.join(d.exec_root, "netns") + "/"):
                if os.path.basename(mp) not in running:
                    self.violation("network namespace %s belongs to no running container" % mp)
            elif mp.startswith(d.data_root + "/") and "/volumes/" not in mp:
                self.violation("mount %s in the data root belongs to nothing" % mp)
        for dd in settled_listdir(os.path.join(d.data_root, "containers")):
            if dd not in listed:
                self.violation("container directory %s belongs to no container" % dd[:12])
        tmp = os.path.join(d.data_root, "tmp")
        left = os.listdir(tmp) if os.path.isdir(tmp) else []
        if left:
            self.violation("spool files left in the data root's tmp/: %s" % left[:5])
        # cgroups: those of containers this run made must be those of running ones.
        for cid in self.ledger.ever_ids:
            if cid in running:
                continue
            for ctl in ("pids", "memory", "unified", ""):
                p = os.path.join("/sys/fs/cgroup", ctl, "berth", cid) if ctl else os.path.join("/sys/fs/cgroup/berth", cid)
                if os.path.isdir(p):
                    self.violation("cgroup %s belongs to no running container" % p)
                    break
        # veths on this daemon's bridges: one per endpoint of a running container.
        bridges = {}
        netdir = os.path.join(d.data_root, "network")
        for f in os.listdir(netdir):
            if f.startswith(".") or not f.endswith(".json"):
                continue  # temporary files: berthd --check reports what a crash left
            try:
                with open(os.path.join(netdir, f)) as fh:
                    rec = json.load(fh)
            except (OSError, ValueError):
                continue
            b = rec.get("BerthBridge") or (rec.get("Options") or {}).get("com.docker.network.bridge.name")
            if b and rec.get("Driver") == "bridge":
                bridges[b] = rec.get("Id")
        endpoints = 0
        for cid in running:
            for ep in (listed[cid].get("NetworkSettings") or {}).get("Networks", {}).values():
                if ep.get("NetworkID") in bridges.values() and ep.get("EndpointID"):
                    endpoints += 1
        veths = 0
        for b in bridges:
            out = subprocess.run(["ip", "-o", "link", "show", "master", b], capture_output=True, text=True).stdout
            veths += len([ln for ln in out.splitlines() if ln.strip()])
        if veths != endpoints:
            self.violation("%d veths on the daemon's bridges for %d endpoints of running containers" % (veths, endpoints))
            # Which container: one whose namespace holds more interfaces than it has endpoints.
            for cid in running:
                ns = os.path.join(d.exec_root, "netns", cid)
                if not os.path.exists(ns):
                    continue
                out = subprocess.run(["nsenter", "--net=" + ns, "ip", "-o", "-4", "addr", "show"], capture_output=True,
                                     text=True).stdout
                ifs = sorted({ln.split()[1] for ln in out.splitlines() if ln.split()[1] != "lo"})
                eps = (listed[cid].get("NetworkSettings") or {}).get("Networks", {})
                if len(ifs) != len([e for e in eps.values() if e.get("EndpointID")]):
                    with self.ledger.lock:
                        hist = (self.ledger.ctrs.get(cid) or {}).get("hist", [])
                    self.violation("  container %s has interfaces %s for endpoints %s; addresses: %s; history %s"
                                   % (cid[:12], ifs, {k: v.get("IPAddress") for k, v in eps.items()},
                                      " | ".join(out.split("\n")), hist[-6:]))
        # nftables: the table's set of bridges is the bridges of the networks that exist.
        table = d.nft_table()
        if table:
            p = subprocess.run(["nft", "-j", "list", "set", "inet", table, "bridges"], capture_output=True, text=True)
            if p.returncode == 0:
                elems = set()
                for obj in json.loads(p.stdout).get("nftables", []):
                    for e in (obj.get("set") or {}).get("elem", []) or []:
                        elems.add(e if isinstance(e, str) else json.dumps(e))
                self.check_port_maps(listed, table)
                if elems and elems != set(bridges):
                    api = self.api()
                    known = {n["Name"]: n["Id"][:12] for n in api.networks()}
                    api.close()
                    self.violation("nftables set of bridges: missing %s, extra %s (networks berthd lists: %s)"
                                   % (sorted(set(bridges) - elems), sorted(elems - set(bridges)), known))

    def check_port_maps(self, listed, table):
        """One element of berth's published-port maps per published port of a running container."""
        want = 0
        for c in listed.values():
            if c["State"] in ("running", "paused"):
                want += len([p for p in c.get("Ports") or [] if p.get("PublicPort")])
        have = 0
        for m in ("pub_ip", "pub_any", "pub6_ip", "pub6_any"):
            p = subprocess.run(["nft", "-j", "list", "map", "inet", table, m], capture_output=True, text=True)
            if p.returncode != 0:
                continue
            for obj in json.loads(p.stdout).get("nftables", []):
                have += len((obj.get("map") or {}).get("elem", []) or [])
        if have != want:
            self.violation("%d published-port map elements for %d published ports of running containers" % (have, want))

    def check_all(self):
        api = self.api()
        try:
            listed = self.check_api(api)
            self.check_pinned(api)
            self.check_system(listed)
        finally:
            api.close()

    # ---- the cycles ----

    def inits(self):
        out = {}
        for cid, c in list(self.ledger.ctrs.items()):
            if c["expect"] == "running" and not c["removed"]:
                try:
                    with open(os.path.join(self.d.exec_root, "containers", cid, "init.pid")) as f:
                        out[cid] = int(f.read().strip())
                except (OSError, ValueError):
                    pass
        return out

    def report_dead(self, before, when):
        for cid, pid in before.items():
            if os.path.exists("/proc/%d" % pid):
                continue
            bundle = os.path.join(self.d.exec_root, "containers", cid)
            try:
                with open(os.path.join(bundle, "shim.log"), errors="replace") as f:
                    shim_log = f.read()[-1500:]
            except OSError:
                shim_log = "(none)"
            try:
                with open(os.path.join(bundle, "exit.json")) as f:
                    exit_rec = f.read()
            except OSError:
                exit_rec = "(none)"
            log("  %s: init %d of %s is gone; exit.json %s; shim.log: %s" % (when, pid, cid[:12], exit_rec, shim_log))

    def kill_daemon(self):
        self.kills.append("%.3f daemon" % time.time())
        before = self.inits()
        self.d.stop(signal.SIGKILL)
        self.kills.append("%.3f daemon dead" % time.time())
        if self.args.verbose:
            self.report_dead(before, "right after the kill")
        rc, out = self.berthd_check("--check=quick")
        self.kills.append("%.3f checked" % time.time())
        if self.args.verbose:
            self.report_dead(before, "after the check")
        problems = [ln for ln in out.splitlines() if ln.startswith("problem")]
        if rc not in (0, 1) or problems:
            self.violation("berthd --check=quick after kill -9 (exit %d):\n%s" % (rc, out))
        self.d.start()

    def kill_shim(self):
        cands = []
        for cid, c in list(self.ledger.ctrs.items()):
            if c["removed"] or c["expect"] != "running":
                continue
            try:
                with open(os.path.join(self.d.exec_root, "containers", cid, "shim.pid")) as f:
                    cands.append((cid, int(f.read().strip())))
            except (OSError, ValueError):
                pass
        if not cands:
            return self.kill_daemon()
        cid, pid = self.rng.choice(cands)
        with self.ledger.lock:
            if self.ledger.ctrs[cid]["expect"] != "running":
                return
            self.ledger.killed_shims.add(cid)
            self.ledger.shim_exit_seen[cid] = None
            self.ledger.ctrs[cid]["expect"] = "exited"  # berthd records 137
            self.ledger.ctrs[cid]["hist"].append("%.3f shim killed" % time.time())
        api = self.api()
        try:
            started = api.inspect_container(cid)["State"]["StartedAt"]
        except docker.errors.NotFound:
            started = None
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # berthd stays up: its monitor records the end (137) within a moment (or its
        # client, told "exited", started a new run once it was recorded).
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                st = api.inspect_container(cid)["State"]
                if not st["Running"] or st["StartedAt"] != started:
                    break
            except docker.errors.NotFound:
                break
            time.sleep(0.1)
        api.close()
        with self.ledger.lock:
            self.ledger.shim_exit_seen[cid] = time.time()

    def full_check(self):
        self.d.stop(signal.SIGTERM)
        rc, out = self.berthd_check("--check")
        if rc != 0:
            self.violation("berthd --check after a clean stop (exit %d):\n%s" % (rc, out))
        self.d.start()

    def run(self):
        a = self.args
        log("torture: seed %d, %d clients, %d cycles, mode %s, data root %s" % (self.seed, a.clients, a.cycles, a.mode,
                                                                              self.d.data_root))
        t0 = time.time()
        self.setup()
        clients = [Client(i, self) for i in range(a.clients)]
        for c in clients:
            c.start()
        self.resume_clients()
        done = 0
        for self.cycle in range(1, a.cycles + 1):
            if time.time() - t0 > a.max_seconds:
                log("torture: --max-seconds reached")
                break
            time.sleep(self.rng.uniform(a.min_run, a.max_run))
            mode = a.mode if a.mode != "both" else self.rng.choice(("daemon", "shim"))
            if a.verbose:
                log("cycle %d: kill %s" % (self.cycle, mode))
            if mode == "daemon":
                self.kill_daemon()
            elif mode == "shim":
                self.kill_shim()
            self.pause_clients()
            try:
                self.check_all()
                if a.full_check_every and self.cycle % a.full_check_every == 0:
                    self.full_check()
            except DOWN_ERRORS as e:
                self.violation("berthd did not answer after the restart: %r" % e)
                if self.d.proc.poll() is not None:
                    log(self.d.read_log()[-3000:])
                    break
            with self.ledger.lock:
                srv = self.ledger.server_errors[:]
                self.ledger.server_errors.clear()
            for s in srv:
                self.violation("server error: %s" % s)
            done = self.cycle
            if self.cycle % 10 == 0 or self.cycle == a.cycles:
                log("cycle %d: %d violations so far, ops ok %s" % (self.cycle, len(self.violations),
                                                                 sum(self.ledger.ops.values())))
            self.resume_clients()
        self.pause_clients()
        self.stopping = True
        self.gate.set()
        # The end: a last full check of the store after a clean stop.
        try:
            self.full_check()
        except Exception as e:
            self.violation("final check: %r" % e)
        elapsed = time.time() - t0
        log("ops acknowledged: %s" % json.dumps(self.ledger.ops, sort_keys=True))
        log("ops cut short or refused: %s" % json.dumps(self.ledger.errors, sort_keys=True))
        log("starts answered 304 while a killed shim's end was pending: %d" % self.ledger.starts_304)
        for why, n in sorted(self.ledger.reasons.items(), key=lambda kv: -kv[1])[:12]:
            log("  refused %5d x %s" % (n, why))
        log("torture: %d cycles (%s kills, %d clients) in %.0f s, %d violations" % (done, a.mode, a.clients, elapsed,
                                                                                len(self.violations)))
        bad = len(self.bad_cycles)
        print("%d passed, %d failed" % (max(done - bad, 0), bad))
        return 0 if not self.violations else 1

    def cleanup(self):
        self.stopping = True
        self.gate.set()
        try:
            if self.d.proc and self.d.proc.poll() is not None:
                self.d.start()
            api = self.api()
            for c in api.containers(all=True):
                try:
                    api.remove_container(c["Id"], force=True, v=True)
                except Exception:
                    pass
            for n in api.networks():
                if n["Name"].startswith("tn"):
                    try:
                        api.remove_network(n["Id"])
                    except Exception:
                        pass
        except Exception as e:
            log("cleanup: %r" % e)
        if self.violations:
            keep = "/tmp/torture-berthd-%d.log" % self.seed
            subprocess.run(["cp", self.d.log_path, keep])
            log("berthd's log kept in %s" % keep)
        self.d.cleanup()
        self.reg.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=int(os.environ.get("TORTURE_CYCLES", "20")))
    ap.add_argument("--clients", type=int, default=int(os.environ.get("TORTURE_CLIENTS", "8")))
    ap.add_argument("--mode", choices=("daemon", "shim", "both", "none"), default="both",
                    help="what is killed each cycle (none: the same checks without a kill)")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--min-run", type=float, default=0.3, help="least time the clients work between kills (s)")
    ap.add_argument("--max-run", type=float, default=1.5)
    ap.add_argument("--full-check-every", type=int, default=10, help="stop berthd and run berthd --check every N cycles")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--ops", help="only these operations (run,exec,stop,rm,commit,pull,push,load,volume,network,start)")
    ap.add_argument("--max-seconds", type=float, default=float(os.environ.get("TORTURE_MAX_SECONDS", "36000")))
    args = ap.parse_args()
    t = Torture(args)
    try:
        return t.run()
    finally:
        t.cleanup()


if __name__ == "__main__":
    sys.exit(main())
