#!/usr/bin/env python3
"""Shrinks a trace.dat of version 6 (uncompressed, `trace-cmd convert --file-version 6`) into a
small valid file for fuzz seeds: the ftrace formats, kallsyms and printk formats are dropped, the
event systems cut to KEEP (comma-separated), saved command lines kept. Ring-buffer pages, options
and clocks are copied; every absolute offset (per-CPU data, instance buffers) moves with the cut,
which is a whole number of pages so the data stays page-aligned.
Usage: shrink-tracedat-v6.py IN OUT KEEP_SYSTEMS"""
import struct, sys

src, dst, keep = sys.argv[1], sys.argv[2], set(sys.argv[3].split(","))
b = open(src, "rb").read()
p = 0
def take(n):
    global p
    v = b[p:p + n]; p += n; return v
def cstr():
    global p
    e = b.index(b"\0", p); v = b[p:e]; p = e + 1; return v
u32 = lambda: struct.unpack("<I", take(4))[0]
u64 = lambda: struct.unpack("<Q", take(8))[0]

assert take(10) == b"\x17\x08\x44tracing", "not a trace.dat"
assert cstr() == b"6", "version 6 only"
endian, longsize = take(1), take(1)
page = u32()
head = b[:p]
out = bytearray(head)
for tag in (b"header_page", b"header_event"):
    assert cstr() == tag
    n = u64(); out += tag + b"\0" + struct.pack("<Q", n) + take(n)
meta_start = p
for _ in range(u32()):                       # ftrace formats: dropped
    take(u64())
systems = []
for _ in range(u32()):
    name = cstr(); events = [take(u64()) for _ in range(u32())]
    if name.decode() in keep: systems.append((name, events))
take(u32())                                  # kallsyms: dropped
take(u32())                                  # printk formats: dropped
cmdlines = take(u64())
meta = bytearray(struct.pack("<I", 0))
meta += struct.pack("<I", len(systems))
for name, events in systems:
    meta += name + b"\0" + struct.pack("<I", len(events))
    for e in events: meta += struct.pack("<Q", len(e)) + e
meta += struct.pack("<I", 0) + struct.pack("<I", 0) + struct.pack("<Q", len(cmdlines)) + cmdlines
cut = (p - meta_start) - len(meta)
pad = cut % page                              # keep the shift a whole number of pages
meta[-len(cmdlines) - 8:] = struct.pack("<Q", len(cmdlines) + pad) + cmdlines + b"\n" * pad
shift = cut - pad
out += meta
rest_start = p
rest = bytearray(b[rest_start:])
def patch64(file_off, value):
    o = file_off - rest_start; rest[o:o + 8] = struct.pack("<Q", value)
ncpu = u32()
assert cstr() == b"options  "
while True:
    oid = struct.unpack("<H", take(2))[0]
    if oid == 0: break
    size = u32(); at = p; data = take(size)
    if oid == 3:                               # TRACECMD_OPTION_BUFFER: u64 offset, name
        patch64(at, struct.unpack("<Q", data[:8])[0] - shift)
def flyrecord(at, cpus):
    global p
    p = at
    assert cstr() == b"flyrecord", "flyrecord expected at %#x" % at
    for _ in range(cpus):
        o = p; off = u64(); u64()
        if off: patch64(o, off - shift)
assert cstr() == b"flyrecord"
p -= len(b"flyrecord") + 1
flyrecord(p, ncpu)
# instance buffers: their flyrecord sections, found through the BUFFER options (same CPU count)
q = rest_start + 4 + 10
while True:
    oid, size = struct.unpack("<HI", b[q:q + 6]) if b[q:q + 2] != b"\0\0" else (0, 0)
    if oid == 0: break
    if oid == 3: flyrecord(struct.unpack("<Q", b[q + 6:q + 14])[0], ncpu)
    q += 6 + size
open(dst, "wb").write(bytes(out) + bytes(rest))
print("%s: %d -> %d bytes" % (dst, len(b), len(out) + len(rest)))
