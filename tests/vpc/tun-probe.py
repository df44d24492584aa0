#!/usr/bin/env python3
"""Raw-packet probes for the TUN tests; run in the test VPC's client namespace.

  tun-probe.py ping ADDR            ICMP echo (IPv4 or IPv6): prints the reply type
  tun-probe.py udp ADDR PORT        one UDP datagram: "refused" when ICMP port
                                    unreachable came back, else "silent"
  tun-probe.py inject DEVICE ADDR   writes malformed and truncated IPv4/IPv6
                                    packets for ADDR into DEVICE's transmit path
                                    (AF_PACKET), so tether's engine reads them as
                                    they are; prints how many were sent
Prints one JSON line.
"""
import json
import os
import random
import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping(addr):
    v6 = ":" in addr
    family = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    s = socket.socket(family, socket.SOCK_RAW, proto)
    s.settimeout(2)
    body = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, os.getpid() & 0xFFFF, 1) + b"tether-ping"
    if not v6:
        body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    s.sendto(body, (addr, 0))
    try:
        while True:
            data, _ = s.recvfrom(2048)
            icmp = data if v6 else data[(data[0] & 15) * 4:]
            if icmp[0] in (0, 129, 3, 1):
                return {"reply": {0: "echo-reply", 129: "echo-reply", 3: "unreachable", 1: "unreachable"}[icmp[0]]}
    except socket.timeout:
        return {"reply": "timeout"}


def udp(addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((addr, int(port)))
    s.send(b"hello")
    try:
        s.recv(100)
        return {"result": "answered"}
    except ConnectionRefusedError:
        return {"result": "refused"}
    except socket.timeout:
        return {"result": "silent"}


def ipv4(src, dst, proto, payload, **over):
    total = over.get("total", 20 + len(payload))
    h = struct.pack("!BBHHHBBH4s4s", over.get("vihl", 0x45), 0, total & 0xFFFF, 1,
                    over.get("frag", 0x4000), 64, proto, 0, src, dst)
    if over.get("good_sum", True):
        h = h[:10] + struct.pack("!H", checksum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, nxt, payload, plen=None):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload) if plen is None else plen, nxt, 64,
                       src, dst) + payload


def tcp(sport, dport, flags, doff=5, extra=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, doff << 4, flags, 1024, 0, 0) + extra


def malformed(dst):
    rnd = random.Random(7)
    if ":" in dst:
        d = socket.inet_pton(socket.AF_INET6, dst)
        s = socket.inet_pton(socket.AF_INET6, "2001:2:0:ff::1")
        packets = [
            ipv6(s, d, 6, tcp(1, 2, 2))[:50],                    # truncated TCP
            ipv6(s, d, 6, tcp(1, 2, 2), plen=400),               # length past the end
            ipv6(s, d, 6, b"", plen=0),                          # jumbogram form
            ipv6(s, d, 44, b"\x06\0\0\0\0\0\0\0" + tcp(1, 2, 2)),  # fragment
            ipv6(s, d, 0, b"\x3c\x00" + b"\0" * 6 + b"\x3c\x00" + b"\0" * 6 +
                 b"\x3c\x00" + b"\0" * 6 + b"\x3c\x00" + b"\0" * 6 + b"\x3c\x00" + b"\0" * 6),
            ipv6(s, d, 60, b"\x06\xff" + b"\0" * 6),              # ext header past the end
            ipv6(s, d, 6, tcp(1, 2, 2, doff=15)),                # TCP header past the end
            ipv6(s, d, 17, struct.pack("!HHHH", 1, 53, 4, 0)),   # UDP length < 8
        ]
    else:
        d = socket.inet_aton(dst)
        s = socket.inet_aton("198.19.255.1")
        packets = [
            ipv4(s, d, 6, tcp(1, 2, 2))[:30],                    # truncated TCP
            ipv4(s, d, 6, tcp(1, 2, 2), total=500),              # length past the end
            ipv4(s, d, 6, tcp(1, 2, 2), total=10),               # length below the header
            ipv4(s, d, 6, tcp(1, 2, 2), vihl=0x43),              # IHL 3
            ipv4(s, d, 6, tcp(1, 2, 2), vihl=0x4F),              # IHL past the end
            ipv4(s, d, 6, tcp(1, 2, 2), good_sum=False),         # bad header checksum
            ipv4(s, d, 6, tcp(1, 2, 2), frag=0x2000),            # more fragments
            ipv4(s, d, 6, tcp(1, 2, 2, doff=2)),                 # TCP offset below 5
            ipv4(s, d, 17, struct.pack("!HHHH", 1, 53, 200, 0)),  # UDP length past the end
            ipv4(s, d, 1, b"\x08"),                              # ICMP too short
            b"\x45",                                             # one byte
            b"\x70" + bytes(40),                                 # version 7
        ]
    for _ in range(200):  # random garbage with a plausible first byte
        n = rnd.randrange(1, 200)
        packets.append(bytes([rnd.choice([0x45, 0x46, 0x60])]) + bytes(rnd.randrange(256) for _ in range(n)))
    return packets


def inject(device, dst):
    v6 = ":" in dst
    ethertype = 0x86DD if v6 else 0x0800
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ethertype))
    sent = 0
    for p in malformed(dst):
        try:
            s.sendto(p, (device, ethertype))
            sent += 1
        except OSError:
            pass
    return {"sent": sent}


def main():
    cmd = sys.argv[1]
    if cmd == "ping":
        out = ping(sys.argv[2])
    elif cmd == "udp":
        out = udp(sys.argv[2], sys.argv[3])
    elif cmd == "inject":
        out = inject(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(json.dumps(out))


main()
