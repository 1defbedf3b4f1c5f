#!/usr/bin/env python3
"""Host-side steps of the Linux-under-QEMU capture (called by capture.sh).

  capture_helper.py snapshot QMP_SOCKET WORKDIR MEMORY_BYTES REGISTER_BASE
      stops the guest, saves its memory (pmemsave) and the remapping unit's register block
      (read through the monitor's physical-memory view), then quits QEMU.
  capture_helper.py extract WORKDIR OUTDIR
      writes the capture: the QEMU trace events the replay reads, the guest's own iommu:map /
      iommu:unmap events, the register block, and only the memory pages the replay needs
      (root and context tables, in scalable mode the PASID directories and tables, every
      page-table page reachable from a context or PASID entry, the interrupt-remapping table and
      the invalidation queue).

The capture format is described in tools/linux-capture/README.md.
"""
import base64
import gzip
import json
import os
import re
import socket
import struct
import sys
import time

REGISTER_BYTES = 0x230  # QEMU's VT-d register block (DMAR_REG_SIZE), one fault record
PAGE = 4096

# QEMU trace events the replay reads (hw/i386/trace-events).
EVENTS = (
    "vtd_reg_write", "vtd_inv_desc", "vtd_dmar_translate", "vtd_dmar_fault",
    "vtd_iotlb_page_update", "vtd_iotlb_page_hit", "vtd_iotlb_cc_update", "vtd_iotlb_cc_hit",
    "vtd_ir_irte_get", "vtd_ir_remap_msi", "vtd_ir_remap_msi_req", "vtd_fault_disabled",
    "vtd_frr_new",
)


class Qmp:
    def __init__(self, path, timeout=30.0):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.file = self.sock.makefile("rw")
        self._read()  # greeting
        self.command("qmp_capabilities")

    def _read(self):
        while True:
            line = self.file.readline()
            if not line:
                raise RuntimeError("QMP connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def command(self, name, **args):
        self.file.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.file.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError("QMP %s: %s" % (name, reply["error"]))
        return reply.get("return")


def snapshot(qmp_path, work, memory_bytes, register_base):
    q = Qmp(qmp_path)
    q.command("stop")
    q.command("pmemsave", val=0, size=memory_bytes, filename=os.path.join(work, "memory.raw"))
    # The monitor's xp reads guest-physical addresses through the memory core, so MMIO
    # reads reach the remapping unit's register handlers (reads have no side effects there).
    text = q.command("human-monitor-command",
                     **{"command-line": "xp /%dgx 0x%x" % (REGISTER_BYTES // 8, register_base)})
    with open(os.path.join(work, "registers.xp"), "w") as f:
        f.write(text)
    try:
        q.command("quit")
    except (RuntimeError, OSError, ValueError):
        pass


def read_registers(work):
    regs = {}
    base = None
    for line in open(os.path.join(work, "registers.xp")):
        m = re.match(r"\s*([0-9a-fA-F]+):\s*(.*)", line)
        if not m:
            continue
        addr = int(m.group(1), 16)
        if base is None:
            base = addr
        for i, word in enumerate(m.group(2).split()):
            if re.fullmatch(r"0x[0-9a-fA-F]+", word):
                regs[addr - base + 8 * i] = int(word, 16)
    return base, regs


class Memory:
    def __init__(self, path):
        self.f = open(path, "rb")
        self.size = os.path.getsize(path)

    def page(self, addr):
        if addr + PAGE > self.size:
            return None
        self.f.seek(addr)
        return self.f.read(PAGE)

    def q(self, addr):
        if addr + 8 > self.size:
            return 0
        self.f.seek(addr)
        return struct.unpack("<Q", self.f.read(8))[0]


def table_pages(mem, regs):
    """Pages the replay reads, from the register state at the end of the run."""
    pages = set()
    addr_mask = ((1 << 52) - 1) & ~0xFFF
    rtaddr = regs.get(0x20, 0) & addr_mask
    if rtaddr and (regs.get(0x20, 0) >> 10) & 3 == 1:
        scalable_pages(mem, rtaddr, pages, addr_mask)
    elif rtaddr:
        pages.add(rtaddr)
        for bus in range(256):
            lo = mem.q(rtaddr + 16 * bus)
            if not lo & 1:
                continue
            ctx = lo & addr_mask
            pages.add(ctx)
            for devfn in range(256):
                clo = mem.q(ctx + 16 * devfn)
                chi = mem.q(ctx + 16 * devfn + 8)
                if not clo & 1 or (clo >> 2) & 3 == 2:
                    continue
                levels = (chi & 7) + 2
                walk(mem, clo & addr_mask, levels, pages, addr_mask)
    irta = regs.get(0xB8, 0)
    if irta & addr_mask:
        entries = 1 << ((irta & 0xF) + 1)
        for i in range((entries * 16 + PAGE - 1) // PAGE):
            pages.add((irta & addr_mask) + i * PAGE)
    iqa = regs.get(0x90, 0)
    if iqa & addr_mask:
        for i in range(1 << (iqa & 7)):
            pages.add((iqa & addr_mask) + i * PAGE)
    return pages


def scalable_pages(mem, rtaddr, pages, addr_mask):
    """Scalable mode (RTADDR.TTM 01): root entries with a lower (devfn 0-127) and an upper
    context table, 256-bit context entries naming a PASID directory of 2^(PDTS+7) entries, PASID
    tables of 64 entries of 64 bytes, and the second-level tables of PASID entries whose PGTT is
    second-level (2) or nested (3)."""
    pages.add(rtaddr)
    for bus in range(256):
        for half in range(2):
            root = mem.q(rtaddr + 16 * bus + 8 * half)
            if not root & 1:
                continue
            ctx = root & addr_mask
            pages.add(ctx)
            for i in range(128):
                c0 = mem.q(ctx + 32 * i)
                if not c0 & 1:
                    continue
                directory = c0 & addr_mask
                entries = 1 << (((c0 >> 9) & 7) + 7)
                for p in range(max(1, entries * 8 // PAGE)):
                    pages.add(directory + p * PAGE)
                for d in range(entries):
                    de = mem.q(directory + 8 * d)
                    if not de & 1:
                        continue
                    table = de & addr_mask
                    pages.add(table)
                    for e in range(64):
                        pe = mem.q(table + 64 * e)
                        if pe & 1 and (pe >> 6) & 7 in (2, 3):
                            walk(mem, pe & addr_mask, ((pe >> 2) & 7) + 2, pages, addr_mask)


def walk(mem, table, level, pages, addr_mask, seen=None):
    if seen is None:
        seen = set()
    if table in seen or table >= mem.size:
        return
    seen.add(table)
    pages.add(table)
    if level == 1:
        return
    data = mem.page(table)
    if data is None:
        return
    for i in range(512):
        e = struct.unpack_from("<Q", data, 8 * i)[0]
        if not e & 3 or (e >> 7) & 1:  # not present, or a superpage leaf
            continue
        walk(mem, e & addr_mask, level - 1, pages, addr_mask, seen)


def section(lines, name):
    """The lines between @@CAPTURE-NAME-BEGIN and -END, without the kernel log's time stamps."""
    out, inside = [], False
    for line in lines:
        line = re.sub(r"^\[\s*[0-9.]+\]\s?", "", line)
        if "@@CAPTURE-%s-BEGIN" % name in line:
            inside = True
        elif "@@CAPTURE-%s-END" % name in line:
            inside = False
        elif inside:
            out.append(line)
    return out


def extract(work, out):
    os.makedirs(out, exist_ok=True)
    console = open(os.path.join(work, "console.log"), errors="replace").read().replace("\r", "")
    lines = console.split("\n")
    packed = "".join(section(lines, "FTRACE")).strip()
    events = gzip.decompress(base64.b64decode(packed)).decode(errors="replace") if packed else ""
    with open(os.path.join(out, "guest-ftrace.txt"), "w") as f:
        f.write("# iommu:map / iommu:unmap events of the guest's own ftrace\n")
        f.write(events)
    with open(os.path.join(out, "guest-dmesg.txt"), "w") as f:
        for line in section(lines, "DMESG"):
            f.write(line + "\n")

    pattern = re.compile(r"^(?:\d+@)?([0-9.]+)?:?(%s)[ :]" % "|".join(EVENTS))
    kept = 0
    with open(os.path.join(work, "vtd.log"), errors="replace") as src, \
            open(os.path.join(out, "qemu-vtd.trace"), "w") as dst:
        for line in src:
            if pattern.match(line):
                dst.write(line)
                kept += 1

    base, regs = read_registers(work)
    with open(os.path.join(out, "registers.txt"), "w") as f:
        f.write("# the remapping unit's registers at the end of the run (offset value), base 0x%x\n" % base)
        for off in sorted(regs):
            f.write("0x%03x 0x%016x\n" % (off, regs[off]))

    mem = Memory(os.path.join(work, "memory.raw"))
    pages = sorted(table_pages(mem, regs))
    written = 0
    with open(os.path.join(out, "memory.pages"), "wb") as f:
        for p in pages:
            data = mem.page(p)
            # Pages left out read as zero in the replay: an all-zero page (most of a large
            # interrupt-remapping table) needs no room in the capture.
            if data is None or data.count(0) == PAGE:
                continue
            f.write(struct.pack("<Q", p))
            f.write(data)
            written += 1
    print("capture: %d QEMU trace events, %d memory pages (%d all zero, left out), %d guest map/unmap events -> %s"
          % (kept, written, len(pages) - written, events.count("\n"), out))


def main(argv):
    if len(argv) >= 6 and argv[1] == "snapshot":
        snapshot(argv[2], argv[3], int(argv[4], 0), int(argv[5], 0))
    elif len(argv) == 4 and argv[1] == "extract":
        extract(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
