#!/usr/bin/env python3
"""A Docker legacy plugin for berth's tests: an HTTP server on a unix socket that speaks
Plugin.Activate and, as asked, the VolumeDriver and authz protocols. Every call is
appended to a JSON-lines log (method and body) so tests can count Mounts and Unmounts.

usage: fake_plugin.py SOCKET LOG --implements VolumeDriver,authz [--voldir DIR]
       [--deny-privileged] [--deny-res PATH-SUBSTRING] [--tcp]
With --tcp it listens on 127.0.0.1 (a port of its own) instead of SOCKET and prints
"ready PORT".
"""
import argparse
import base64
import json
import os
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler

LOCK = threading.Lock()


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def decode_entry(b):
    """dockerd's LogEntry protobuf: source 1, time_nano 2, line 3, partial 4, metadata 5."""
    out, i = {}, 0
    names = {1: "source", 2: "time_nano", 3: "line", 4: "partial", 5: "partial_log_metadata"}
    while i < len(b):
        key, i = varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(b, i)
        elif wire == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            i += n
        else:
            raise ValueError("wire type %d" % wire)
        name = names.get(field, str(field))
        if field == 1:
            v = v.decode()
        elif field == 3:
            v = v.decode(errors="replace")
        elif field == 5:
            v = decode_meta(v)
        out[name] = v
    return out


def enc_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7f
        v >>= 7
        out.append(c | (0x80 if v else 0))
        if not v:
            return bytes(out)


def encode_entry(e):
    """A LogEntry back into its length-prefixed protobuf (no partial metadata)."""
    b = bytearray()
    src = e["source"].encode()
    b += b"\x0a" + enc_varint(len(src)) + src
    b += b"\x10" + enc_varint(e.get("time_nano", 0))
    line = e.get("line", "").encode()
    b += b"\x1a" + enc_varint(len(line)) + line
    if e.get("partial"):
        b += b"\x20\x01"
    return len(b).to_bytes(4, "big") + bytes(b)


def decode_meta(b):
    out, i = {}, 0
    while i < len(b):
        key, i = varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(b, i)
        else:
            n, i = varint(b, i)
            v = b[i:i + n].decode()
            i += n
        out[{1: "last", 2: "id", 3: "ordinal"}.get(field, str(field))] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("log")
    ap.add_argument("--implements", default="VolumeDriver")
    ap.add_argument("--voldir", default=None)
    ap.add_argument("--deny-privileged", action="store_true")
    ap.add_argument("--deny-res", default=None)
    ap.add_argument("--tcp", action="store_true")
    ap.add_argument("--readlogs", action="store_true", help="LogDriver.ReadLogs, lines prefixed from-plugin")
    args = ap.parse_args()
    voldir = args.voldir
    readers = {}  # fifo -> thread
    stored = {}  # container ID -> decoded entries
    fifo_ctr = {}  # fifo -> container ID

    def read_fifo(path):
        with open(path, "rb") as f:
            while True:
                head = f.read(4)
                if len(head) < 4:
                    return
                n = int.from_bytes(head, "big")
                body = f.read(n)
                if len(body) < n:
                    return
                e = decode_entry(body)
                with LOCK:
                    stored.setdefault(fifo_ctr.get(path), []).append(e)
                log("entry", {"File": path, **e})

    def log(method, body):
        with LOCK, open(args.log, "a") as f:
            f.write(json.dumps({"method": method, "body": body}) + "\n")

    def vol_path(name):
        return os.path.join(voldir, name)

    def handle(method, body):
        if method == "Plugin.Activate":
            return {"Implements": args.implements.split(",")}
        if method == "VolumeDriver.Capabilities":
            return {"Capabilities": {"Scope": "local"}}
        if method == "VolumeDriver.Create":
            os.makedirs(vol_path(body["Name"]), exist_ok=True)
            with open(vol_path(body["Name"]) + ".opts", "w") as f:
                json.dump(body.get("Opts") or {}, f)
            return {"Err": ""}
        if method == "VolumeDriver.Remove":
            p = vol_path(body["Name"])
            if not os.path.isdir(p):
                return {"Err": "no such volume"}
            for fn in os.listdir(p):
                os.unlink(os.path.join(p, fn))
            os.rmdir(p)
            os.unlink(p + ".opts")
            return {"Err": ""}
        if method in ("VolumeDriver.Mount", "VolumeDriver.Path"):
            p = vol_path(body["Name"])
            if not os.path.isdir(p):
                return {"Err": "no such volume: " + body["Name"]}
            return {"Mountpoint": p, "Err": ""}
        if method == "VolumeDriver.Unmount":
            return {"Err": ""}
        if method == "VolumeDriver.Get":
            p = vol_path(body["Name"])
            if not os.path.isdir(p):
                return {"Err": "no such volume"}
            with open(p + ".opts") as f:
                opts = json.load(f)
            return {"Volume": {"Name": body["Name"], "Mountpoint": p, "Status": {"opts": opts}}, "Err": ""}
        if method == "VolumeDriver.List":
            names = sorted(n for n in os.listdir(voldir) if os.path.isdir(vol_path(n)))
            return {"Volumes": [{"Name": n, "Mountpoint": vol_path(n)} for n in names], "Err": ""}
        if method == "LogDriver.Capabilities":
            return {"Cap": {"ReadLogs": args.readlogs}}
        if method == "LogDriver.StartLogging":
            if (body.get("Info") or {}).get("Config", {}).get("fail"):
                return {"Err": "refused by the test plugin"}
            fifo_ctr[body["File"]] = body["Info"]["ContainerID"]
            t = threading.Thread(target=read_fifo, args=(body["File"],), daemon=True)
            readers[body["File"]] = t
            t.start()
            return {"Err": ""}
        if method == "LogDriver.StopLogging":
            t = readers.pop(body["File"], None)
            if t:
                t.join(5)
            return {"Err": ""}
        if method == "AuthZPlugin.AuthZReq":
            if args.deny_privileged and body.get("RequestBody"):
                req = json.loads(base64.b64decode(body["RequestBody"]))
                if (req.get("HostConfig") or {}).get("Privileged"):
                    return {"Allow": False, "Msg": "privileged containers are not allowed here"}
            return {"Allow": True}
        if method == "AuthZPlugin.AuthZRes":
            if args.deny_res and args.deny_res in body.get("RequestUri", ""):
                return {"Allow": False, "Msg": "response withheld"}
            return {"Allow": True}
        return None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept-alive connections, as a Go plugin's

        def log_message(self, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            body = json.loads(raw) if raw.strip() else None
            method = self.path.lstrip("/")
            log(method, {"_accept": self.headers.get("Accept"), **(body or {})})
            if method == "LogDriver.ReadLogs" and args.readlogs:
                # a stream, chunked as a Go plugin sends it: the stored entries, each line marked
                with LOCK:
                    ents = list(stored.get(body["Info"]["ContainerID"], []))
                tail = body["Config"].get("Tail", -1)
                if tail >= 0:
                    ents = ents[len(ents) - tail:] if tail else []
                data = b"".join(encode_entry({**e, "line": "from-plugin " + e.get("line", "")}) for e in ents)
                self.protocol_version = "HTTP/1.1"
                self.send_response(200)
                self.send_header("Content-Type", "application/x-json-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                for i in range(0, len(data), 7):  # small chunks: records cut across them
                    piece = data[i:i + 7]
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            out = handle(method, body or {})
            if out is None:
                self.send_response(404)
                self.send_header("Content-Length", "19")
                self.end_headers()
                self.wfile.write(b"404 page not found\n")
                return
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.docker.plugins.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

        def get_request(self):
            conn, _ = self.socket.accept()
            return conn, ("local", 0)

    class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    if args.tcp:
        srv = TCPServer(("127.0.0.1", 0), Handler)
        sys.stdout.write("ready %d\n" % srv.server_address[1])
        sys.stdout.flush()
        srv.serve_forever()
        return
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    srv = Server(args.socket, Handler)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
