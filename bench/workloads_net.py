"""Workloads of issues 10 and 11: networks at scale. Imported at the end of workloads.py.

Flatness workloads report a ratio (×): the start time of the Nth container over that of
the 1st, on one network that fills up as the workload goes, read from a robust line
(Theil-Sen) through all N start times: single starts are too noisy on a shared 2-core
machine to compare one to one, and a least-squares line follows bursts of load. 1.00 means the 200th container starts
as fast as the 1st. The log also gives the medians of the first and last 5 starts and
berthd's own CPU time per start (first 20 against last 20), which the load of other
programs on the machine does not move."""
import os
import statistics
import subprocess
import time

from workloads import Goal, Workload, docker, time_docker

N_FLAT = 200         # containers on one network
N_PORTS_CTRS = 100   # containers with PORTS_EACH published ports each
PORTS_EACH = 10
EDGE = 5             # first/last starts compared
N_DNS = 1000
RANGE = (20000, 20999)


def _rm_all(daemon):
    ids = docker(daemon, "ps", "-aq", capture=True).stdout.split()
    for i in range(0, len(ids), 50):
        docker(daemon, "rm", "-f", *ids[i:i + 50], check=False)


def _fresh_net(daemon, name):
    _rm_all(daemon)
    docker(daemon, "network", "rm", name, check=False)
    docker(daemon, "network", "create", name)


def _flatness(times):
    """Ratio of the Nth to the 1st start on a Theil-Sen line (the median of the slopes of
    every pair of starts): a burst of load from other programs moves a few samples, not
    the line."""
    n = len(times)
    slopes = sorted((times[j] - times[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    slope = statistics.median(slopes)
    icpt = statistics.median(y - slope * x for x, y in enumerate(times, 1))
    first = icpt + slope
    return (icpt + slope * n) / first if first > 0 else float("nan")


def _cpu_ms(pid):
    """CPU time of process @pid (all its threads), ms."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _starts(daemon, n, *args):
    """n `docker run -d ARGS`: wall times and the daemon's CPU time of each, ms."""
    times, cpu = [], []
    for _ in range(n):
        c0 = _cpu_ms(daemon.pid)
        times.append(time_docker(daemon, "run", "-d", *args))
        cpu.append(_cpu_ms(daemon.pid) - c0)
    return times, cpu


def _report(daemon, what, times, cpu):
    k = min(20, len(cpu) // 2)
    print(f"bench: {daemon.kind}: {what}: first {statistics.median(times[:EDGE]):.0f} ms, "
          f"last {statistics.median(times[-EDGE:]):.0f} ms (medians of {EDGE}), fitted ratio {_flatness(times):.2f}; "
          f"daemon CPU per start {statistics.fmean(cpu[:k]):.1f} ms first {k}, {statistics.fmean(cpu[-k:]):.1f} ms "
          f"last {k}", flush=True)


def start_200th_over_1st(daemon):
    """N_FLAT `docker run -d --network benchflat busybox sleep 600`: last 5 / first 5."""
    _fresh_net(daemon, "benchflat")
    try:
        times, cpu = _starts(daemon, N_FLAT, "--network", "benchflat", "busybox", "sleep", "600")
        _report(daemon, "start on one network", times, cpu)
        return _flatness(times)
    finally:
        _rm_all(daemon)
        docker(daemon, "network", "rm", "benchflat", check=False)


def start_100th_with_ports(daemon):
    """N_PORTS_CTRS containers publishing PORTS_EACH ports each (127.0.0.1, random host
    ports): last 5 / first 5."""
    _fresh_net(daemon, "benchports")
    ports = []
    for p in range(8000, 8000 + PORTS_EACH):
        ports += ["-p", f"127.0.0.1::{p}"]
    try:
        times, cpu = _starts(daemon, N_PORTS_CTRS, "--network", "benchports", *ports, "busybox", "sleep", "600")
        _report(daemon, f"start with {PORTS_EACH} ports", times, cpu)
        return _flatness(times)
    finally:
        _rm_all(daemon)
        docker(daemon, "network", "rm", "benchports", check=False)


def publish_range(daemon):
    """What publishing a 1,000-port range costs: `docker start` of a container created with
    `-p 127.0.0.1:20000-20999:20000-20999` minus `docker start` of the same without, in ms
    (medians of 3 of each, interleaved). The start is where the ports are reserved and
    forwarded; the CLI's own parsing of 1,000 bindings (create) is not counted."""
    _rm_all(daemon)
    spec = f"127.0.0.1:{RANGE[0]}-{RANGE[1]}:{RANGE[0]}-{RANGE[1]}"
    with_p, without = [], []
    try:
        for _ in range(3):
            docker(daemon, "create", "--name", "benchnop", "busybox", "sleep", "600")
            docker(daemon, "create", "--name", "benchrange", "-p", spec, "busybox", "sleep", "600")
            without.append(time_docker(daemon, "start", "benchnop"))
            with_p.append(time_docker(daemon, "start", "benchrange"))
            docker(daemon, "rm", "-f", "benchnop", "benchrange")
        return max(0.0, statistics.median(with_p) - statistics.median(without))
    finally:
        _rm_all(daemon)


DNS_CLIENT = r'''
import socket, struct, sys, time, random, statistics
name, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
lat, lost, bad = [], 0, 0
q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
for i in range(n):
    qid = random.randrange(65536)
    t0 = time.perf_counter()
    s.sendto(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q, ("127.0.0.11", 53))
    try:
        while True:
            data = s.recv(4096)
            if struct.unpack(">H", data[:2])[0] == qid:
                break
    except socket.timeout:
        lost += 1
        continue
    lat.append((time.perf_counter() - t0) * 1000)
    if struct.unpack(">H", data[6:8])[0] < 1:
        bad += 1
print(statistics.median(lat) if lat else -1, lost, bad)
'''


def dns_median(daemon):
    """N_DNS sequential A queries for a container's name to 127.0.0.11, sent from a
    client in a container's network namespace (python3 entered into it, so the figure is
    the resolver's answer time, not busybox's start-up): median latency in ms. A lost or
    empty answer fails the round."""
    _fresh_net(daemon, "benchdns")
    try:
        docker(daemon, "run", "-d", "--name", "benchdns-target", "--network", "benchdns", "busybox", "sleep", "600")
        docker(daemon, "run", "-d", "--name", "benchdns-client", "--network", "benchdns", "busybox", "sleep", "600")
        pid = docker(daemon, "inspect", "-f", "{{.State.Pid}}", "benchdns-client", capture=True).stdout.strip()
        r = subprocess.run(["nsenter", "--net=/proc/%s/ns/net" % pid, "/usr/bin/python3", "-c", DNS_CLIENT,
                            "benchdns-target", str(N_DNS)], capture_output=True, text=True, timeout=120)
        med, lost, bad = r.stdout.split()
        if int(lost) or int(bad) or float(med) < 0:
            raise RuntimeError(f"dns: {lost} of {N_DNS} queries lost, {bad} without an answer")
        return float(med)
    finally:
        _rm_all(daemon)
        docker(daemon, "network", "rm", "benchdns", check=False)


BULK_MB = 64
BULK_CLIENT = r'''
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=30)
s.sendall(b"GET /big HTTP/1.0\r\nHost: x\r\n\r\n")
n, t0 = 0, time.perf_counter()
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    n += len(b)
print(n, time.perf_counter() - t0)
'''


def _transfer(host, port):
    r = subprocess.run(["/usr/bin/python3", "-c", BULK_CLIENT, host, str(port)], capture_output=True, text=True,
                       timeout=120)
    n, t = r.stdout.split()
    if int(n) < BULK_MB << 20:
        raise RuntimeError(f"bulk transfer: {n} bytes of {BULK_MB} MB")
    return float(t)


def bulk_published_over_direct(daemon):
    """A BULK_MB MB HTTP download from a busybox httpd in a container, from the host:
    through the published port on 127.0.0.1 against straight to the container's address
    (the kernel path), medians of 3 each, interleaved. The value is the throughput through
    the published port as a fraction of the direct one (dockerd goes through docker-proxy)."""
    _fresh_net(daemon, "benchbulk")
    try:
        cid = docker(daemon, "run", "-d", "--network", "benchbulk", "-p", "127.0.0.1::80", "busybox", "sh", "-c",
                     f"mkdir /www && head -c {BULK_MB << 20} /dev/zero > /www/big && httpd -f -p 80 -h /www",
                     capture=True).stdout.strip()
        port = int(docker(daemon, "port", cid, "80/tcp", capture=True).stdout.split(":")[-1])
        ip = docker(daemon, "inspect", "-f", "{{(index .NetworkSettings.Networks \"benchbulk\").IPAddress}}", cid,
                    capture=True).stdout.strip()
        deadline = time.time() + 20
        while True:  # the file is written before httpd listens
            try:
                _transfer(ip, 80)
                break
            except (RuntimeError, ValueError, subprocess.TimeoutExpired):
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        pub, direct = [], []
        for _ in range(3):
            pub.append(_transfer("127.0.0.1", port))
            direct.append(_transfer(ip, 80))
        return statistics.median(direct) / statistics.median(pub)
    finally:
        _rm_all(daemon)
        docker(daemon, "network", "rm", "benchbulk", check=False)


WORKLOADS_NET = [
    Workload(f"start {N_FLAT}th / 1st on one network", "×", start_200th_over_1st, needs_images=True,
             goal=Goal("≤ 1.2×", max_value=1.2), decimals=2,
             description=f"start of the {N_FLAT}th container over the 1st on one user network (fitted line)"),
    Workload(f"start {N_PORTS_CTRS}th / 1st, {PORTS_EACH} ports each", "×", start_100th_with_ports,
             needs_images=True, goal=Goal("≤ 1.2×", max_value=1.2), decimals=2,
             description=f"the same with {PORTS_EACH} published ports per container, {N_PORTS_CTRS} containers"),
    Workload("publish a 1,000-port range", "ms", publish_range, needs_images=True,
             goal=Goal("≤ 50 ms", max_value=50.0),
             description="`-p 127.0.0.1:20000-20999:20000-20999`: docker start with it minus without"),
    Workload(f"{N_DNS} DNS queries, median", "ms", dns_median, needs_images=True, decimals=3,
             goal=Goal("≤ 0.5× dockerd", max_ratio=0.5),
             description="A queries for a container name to 127.0.0.11 from a container's namespace"),
    Workload("bulk TCP through a published port", "×", bulk_published_over_direct, needs_images=True,
             goal=Goal("≥ 0.9× direct", min_value=0.9), decimals=2,
             description=f"{BULK_MB} MB from a container's httpd to the host: throughput through -p 127.0.0.1 over "
                         "straight to the container's address"),
]
