#!/usr/bin/env python3
"""A network driver and IPAM driver plugin for berth's tests (libnetwork's remote driver
protocol), an HTTP server on a unix socket. Every call is appended to a JSON-lines log
(method and body) so tests can count Leaves, DeleteEndpoints and ReleaseAddresses.

usage: net_plugin.py SOCKET LOG --tag TAG --pool CIDR [--implements NetworkDriver,IpamDriver]
                     [--scope local|global]

The network driver makes its links itself, in the host's namespace, with `ip link`: a
bridge TAG + "b" + 6 hex of the network ID holding the gateway address, and per endpoint
a veth pair TAG + "h"/"c" + 8 hex of the endpoint ID; Join names the "c" end for the
container, with the gateway and a static route to the network's pool + 1 (a /24) via it,
and with IPv6 data the same for IPv6 (the gateway on the bridge, a route to the next /64).
The IPAM driver hands out the pool asked for (else --pool; IPv6 ones only when asked
for), the gateway at .1 (::1) and endpoints from .10 (::a) on. A network created with -o berth.test.fail=MSG, or an IPAM pool
asked with --ipam-opt fail=MSG, is refused with MSG ({"Err"} / {"Error"}); one created
with -o berth.test.failjoin=MSG refuses its Joins so; -o berth.test.prefix=P makes Join
name P as the DstPrefix.
"""
import argparse
import ipaddress
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler

LOCK = threading.Lock()
ARGS = None
NETS = {}    # network ID -> {"bridge", "gateway"}
EPS = {}     # endpoint ID -> {"host", "ctr", "net"}
POOLS = {}   # pool ID -> {"net": ip_network, "taken": set of addresses}


def ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True)


def link_exists(name):
    return ip("link", "show", name).returncode == 0


def net_create(body):
    generic = (body.get("Options") or {}).get("com.docker.network.generic") or {}
    if generic.get("berth.test.fail"):
        return {"Err": generic["berth.test.fail"]}
    d4 = (body.get("IPv4Data") or [{}])[0]
    br = ARGS.tag + "b" + body["NetworkID"][:6]
    r = ip("link", "add", br, "type", "bridge")
    if r.returncode != 0:
        return {"Err": "bridge %s: %s" % (br, r.stderr.strip())}
    ip("link", "set", br, "up")
    gw = d4.get("Gateway") or ""
    if gw:
        ip("addr", "add", gw, "dev", br)
    d6 = (body.get("IPv6Data") or [{}])[0]
    gw6 = d6.get("Gateway") or ""
    if gw6:
        ip("-6", "addr", "add", gw6, "dev", br, "nodad")
    NETS[body["NetworkID"]] = {"bridge": br, "gateway": gw.split("/")[0], "pool": d4.get("Pool", ""),
                               "gateway6": gw6.split("/")[0], "pool6": d6.get("Pool", ""),
                               "failjoin": generic.get("berth.test.failjoin", ""),
                               "prefix": generic.get("berth.test.prefix", "eth"),
                               "srcname": generic.get("berth.test.srcname", "")}
    return {}


def net_delete(body):
    n = NETS.pop(body["NetworkID"], None)
    if n:
        ip("link", "del", n["bridge"])
    return {}


def ep_create(body):
    n = NETS.get(body["NetworkID"])
    if not n:
        return {"Err": "no network %s" % body["NetworkID"]}
    eid = body["EndpointID"]
    host, ctr = ARGS.tag + "h" + eid[:8], ARGS.tag + "c" + eid[:8]
    r = ip("link", "add", host, "type", "veth", "peer", "name", ctr)
    if r.returncode != 0:
        return {"Err": "veth %s: %s" % (host, r.stderr.strip())}
    ip("link", "set", host, "master", n["bridge"])
    ip("link", "set", host, "up")
    EPS[eid] = {"host": host, "ctr": ctr, "net": body["NetworkID"]}
    iface = body.get("Interface") or {}
    if not iface.get("MacAddress"):
        # the driver sets the MAC the request left empty (libnetwork takes it)
        return {"Interface": {"MacAddress": "02:42:be:%s:%s:%s" % (eid[0:2], eid[2:4], eid[4:6])}}
    return {}


def ep_delete(body):
    e = EPS.pop(body["EndpointID"], None)
    if e:
        # berth gives the container's end back (renamed to SrcName) before DeleteEndpoint
        body["_ctr_back"] = link_exists(e["ctr"])
        ip("link", "del", e["host"])
    return {}


def join(body):
    e = EPS.get(body["EndpointID"])
    if not e:
        return {"Err": "no endpoint %s" % body["EndpointID"]}
    n = NETS[e["net"]]
    if n["failjoin"]:
        return {"Err": n["failjoin"]}
    src = e["ctr"]
    if n["srcname"]:  # a hostile driver: another interface than the endpoint's own
        src = e["host"] if n["srcname"] == "host-end" else n["srcname"]
    out = {"InterfaceName": {"SrcName": src, "DstPrefix": n["prefix"]}}
    if n["gateway"]:
        out["Gateway"] = n["gateway"]
        pool = ipaddress.ip_network(n["pool"])
        nxt = ipaddress.ip_network("%s/24" % (pool.network_address + 256))
        out["StaticRoutes"] = [{"Destination": str(nxt), "RouteType": 0, "NextHop": n["gateway"]}]
    if n["gateway6"]:
        out["GatewayIPv6"] = n["gateway6"]
        pool6 = ipaddress.ip_network(n["pool6"])
        nxt6 = ipaddress.ip_network("%s/64" % (pool6.network_address + 2 ** 64))
        out["StaticRoutes"].append({"Destination": str(nxt6), "RouteType": 0, "NextHop": n["gateway6"]})
    return out


def pool_request(body):
    opts = body.get("Options") or {}
    if opts.get("fail"):
        return {"Error": opts["fail"]}
    if body.get("V6") and not body.get("Pool"):
        return {"Error": "no default IPv6 pool here: ask for one"}
    net = ipaddress.ip_network(body.get("Pool") or ARGS.pool)
    if (net.version == 6) != bool(body.get("V6")):
        return {"Error": "pool %s is not of the family asked" % net}
    pid = "pool-%s" % net
    if pid in POOLS:
        return {"Error": "pool %s is in use" % net}
    POOLS[pid] = {"net": net, "taken": set()}
    return {"PoolID": pid, "Pool": str(net), "Data": {}}


def pool_release(body):
    if POOLS.pop(body.get("PoolID"), None) is None:
        return {"Error": "no pool %s" % body.get("PoolID")}
    return {}


def addr_request(body):
    p = POOLS.get(body.get("PoolID"))
    if not p:
        return {"Error": "no pool %s" % body.get("PoolID")}
    net = p["net"]
    want = body.get("Address") or ""
    gw = ((body.get("Options") or {}).get("RequestAddressType") == "com.docker.network.gateway")
    if want:
        a = ipaddress.ip_address(want)
        if a in p["taken"]:
            return {"Error": "address %s is taken" % a}
    elif gw:
        a = net.network_address + 1
    else:
        a = next((h for h in net.hosts() if int(h) - int(net.network_address) >= 10 and h not in p["taken"]), None)
        if a is None:
            return {"Error": "pool %s is full" % net}
    p["taken"].add(a)
    return {"Address": "%s/%d" % (a, net.prefixlen), "Data": {}}


def addr_release(body):
    p = POOLS.get(body.get("PoolID"))
    if not p:
        return {"Error": "no pool %s" % body.get("PoolID")}
    p["taken"].discard(ipaddress.ip_address(body["Address"]))
    return {}


METHODS = {
    "/NetworkDriver.GetCapabilities": lambda b: {"Scope": ARGS.scope, "ConnectivityScope": ARGS.scope},
    "/NetworkDriver.CreateNetwork": net_create,
    "/NetworkDriver.DeleteNetwork": net_delete,
    "/NetworkDriver.CreateEndpoint": ep_create,
    "/NetworkDriver.DeleteEndpoint": ep_delete,
    "/NetworkDriver.EndpointOperInfo": lambda b: {"Value": {}},
    "/NetworkDriver.Join": join,
    "/NetworkDriver.Leave": lambda b: {},
    "/NetworkDriver.DiscoverNew": lambda b: {},
    "/NetworkDriver.DiscoverDelete": lambda b: {},
    "/NetworkDriver.ProgramExternalConnectivity": lambda b: {},
    "/NetworkDriver.RevokeExternalConnectivity": lambda b: {},
    "/IpamDriver.GetCapabilities": lambda b: {"RequiresMACAddress": False},
    "/IpamDriver.GetDefaultAddressSpaces": lambda b: {"LocalDefaultAddressSpace": "berthlocal",
                                                      "GlobalDefaultAddressSpace": "berthglobal"},
    "/IpamDriver.RequestPool": pool_request,
    "/IpamDriver.ReleasePool": pool_release,
    "/IpamDriver.RequestAddress": addr_request,
    "/IpamDriver.ReleaseAddress": addr_release,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = {}
        if body is None:
            body = {}
        if self.path == "/Plugin.Activate":
            out = {"Implements": ARGS.implements.split(",")}
        elif self.path in METHODS:
            with LOCK:
                out = METHODS[self.path](body)
        else:
            self.answer(404, {"Err": "404 page not found"})
            return
        with LOCK, open(ARGS.log, "a") as f:
            f.write(json.dumps({"method": self.path[1:], "body": body, "answer": out}) + "\n")
        self.answer(200, out)

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.docker.plugins.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("log")
    ap.add_argument("--tag", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--implements", default="NetworkDriver,IpamDriver")
    ap.add_argument("--scope", default="local")
    ARGS = ap.parse_args()
    if os.path.exists(ARGS.socket):
        os.unlink(ARGS.socket)
    srv = Server(ARGS.socket, Handler)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))  # and its links go (finally)
    print("ready", flush=True)
    try:
        srv.serve_forever()
    finally:
        for e in EPS.values():
            ip("link", "del", e["host"])
        for n in NETS.values():
            ip("link", "del", n["bridge"])


if __name__ == "__main__":
    sys.exit(main())
