#include "iommu_sim/platform/linux_capture.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace iommu_sim {

namespace fs = std::filesystem;

const char* const kCaptureSignature = "# capture of Linux driving QEMU's VT-d";

namespace {

std::string capture_dir(const std::string& path) {
  const fs::path p(path);
  if (fs::is_directory(p)) return p.string();
  return p.parent_path().empty() ? "." : p.parent_path().string();
}

std::ifstream open_in(const std::string& dir, const char* name, std::ios::openmode mode = std::ios::in) {
  std::ifstream f(dir + "/" + name, mode);
  if (!f) throw CaptureError(dir + "/" + name + ": cannot open (is this a capture directory?)");
  return f;
}

[[noreturn]] void bad(const std::string& file, unsigned line, const std::string& what) {
  throw CaptureError(file + ":" + std::to_string(line) + ": " + what);
}

// Scans `args` with `format`; true when all `n` conversions matched.
template <typename... T>
bool scan(const char* args, const char* format, int n, T*... out) {
  return std::sscanf(args, format, out...) == n;
}

void parse_event(const std::string& file, unsigned line_no, const std::string& line,
                 std::vector<CaptureEvent>& out) {
  // "PID@SEC.USEC:event args"
  const auto at = line.find('@');
  const auto colon = line.find(':', at == std::string::npos ? 0 : at);
  if (at == std::string::npos || colon == std::string::npos)
    bad(file, line_no, "expected 'PID@SECONDS:event ...' (record with -msg timestamp=on)");
  CaptureEvent e;
  e.line = line_no;
  e.time_s = std::strtod(line.c_str() + at + 1, nullptr);
  const std::string rest = line.substr(colon + 1);
  const auto space = rest.find(' ');
  const std::string name = rest.substr(0, space);
  const char* args = space == std::string::npos ? "" : rest.c_str() + space + 1;
  using K = CaptureEvent::Kind;
  unsigned u1 = 0, u2 = 0, u3 = 0;
  uint64_t x1 = 0, x2 = 0, x3 = 0, x4 = 0;
  int i1 = 0, i2 = 0;
  char type[32] = {0};
  if (name == "vtd_reg_write") {
    if (!scan(args, "addr 0x%" SCNx64 " size 0x%" SCNx64 " value 0x%" SCNx64, 3, &x1, &x2, &x3))
      bad(file, line_no, "vtd_reg_write: expected 'addr 0x.. size 0x.. value 0x..'");
    e.kind = K::RegWrite;
    e.a = x1, e.b = x2, e.c = x3;
  } else if (name == "vtd_inv_desc") {
    if (!scan(args, "invalidate desc type %31s high 0x%" SCNx64 " low 0x%" SCNx64, 3, type, &x1, &x2))
      bad(file, line_no, "vtd_inv_desc: expected 'invalidate desc type T high 0x.. low 0x..'");
    e.kind = K::InvDesc;
    e.text = type;
    e.a = x2, e.b = x1;
  } else if (name == "vtd_iotlb_cc_hit" || name == "vtd_iotlb_cc_update") {
    if (!scan(args, "IOTLB context %*s bus 0x%x devfn 0x%x high 0x%" SCNx64 " low 0x%" SCNx64, 4, &u1,
              &u2, &x1, &x2))
      bad(file, line_no, name + ": expected 'IOTLB context ... bus 0x.. devfn 0x.. high 0x.. low 0x..'");
    e.kind = K::ContextEntry;
    e.sid = static_cast<uint16_t>((u1 << 8) | u2);
    e.a = x2, e.b = x1;
  } else if (name == "vtd_iotlb_page_hit" || name == "vtd_iotlb_page_update") {
    if (!scan(args, "IOTLB page %*s sid 0x%x iova 0x%" SCNx64 " slpte 0x%" SCNx64 " domain 0x%" SCNx64, 4,
              &u1, &x1, &x2, &x3))
      bad(file, line_no, name + ": expected 'IOTLB page ... sid 0x.. iova 0x.. slpte 0x.. domain 0x..'");
    e.kind = K::Leaf;
    e.hit = name == "vtd_iotlb_page_hit";
    e.sid = static_cast<uint16_t>(u1);
    e.a = x1, e.b = x2, e.c = x3;
  } else if (name == "vtd_dmar_translate") {
    if (!scan(args, "dev %x:%x.%x iova 0x%" SCNx64 " -> gpa 0x%" SCNx64 " mask 0x%" SCNx64, 6, &u1, &u2,
              &u3, &x1, &x2, &x3))
      bad(file, line_no, "vtd_dmar_translate: expected 'dev BB:DD.FF iova 0x.. -> gpa 0x.. mask 0x..'");
    e.kind = K::Translate;
    e.sid = static_cast<uint16_t>((u1 << 8) | (u2 << 3) | u3);
    e.a = x1, e.b = x2, e.c = x3;
  } else if (name == "vtd_dmar_fault") {
    if (!scan(args, "sid 0x%x fault %d addr 0x%" SCNx64 " write %d", 4, &u1, &i1, &x1, &i2))
      bad(file, line_no, "vtd_dmar_fault: expected 'sid 0x.. fault N addr 0x.. write N'");
    e.kind = K::DmaFault;
    e.sid = static_cast<uint16_t>(u1);
    e.a = x1;
    e.b = static_cast<uint64_t>(i1);
    e.write = i2 != 0;
  } else if (name == "vtd_fault_disabled") {
    e.kind = K::FaultDisabled;
  } else if (name == "vtd_ir_remap_msi_req") {
    if (!scan(args, "addr 0x%" SCNx64 " data 0x%" SCNx64, 2, &x1, &x2))
      bad(file, line_no, "vtd_ir_remap_msi_req: expected 'addr 0x.. data 0x..'");
    e.kind = K::MsiRequest;
    e.a = x1, e.b = x2;
  } else if (name == "vtd_ir_irte_get") {
    if (!scan(args, "index %d low 0x%" SCNx64 " high 0x%" SCNx64, 3, &i1, &x1, &x2))
      bad(file, line_no, "vtd_ir_irte_get: expected 'index N low 0x.. high 0x..'");
    e.kind = K::IrteRead;
    // QEMU 7.2 passes the entry's high qword as the event's "low" argument and the low qword
    // as "high" (vtd_irte_get): the present bit, vector and destination print as "high".
    e.a = static_cast<uint64_t>(i1), e.b = x2, e.c = x1;
  } else if (name == "vtd_ir_remap_msi") {
    if (!scan(args, "(addr 0x%" SCNx64 ", data 0x%" SCNx64 ") -> (addr 0x%" SCNx64 ", data 0x%" SCNx64 ")",
              4, &x1, &x2, &x3, &x4))
      bad(file, line_no, "vtd_ir_remap_msi: expected '(addr 0x.., data 0x..) -> (addr 0x.., data 0x..)'");
    e.kind = K::MsiRemapped;
    e.a = x1, e.b = x2, e.c = x3, e.d = x4;
  } else {
    return;  // events the replay does not need
  }
  out.push_back(std::move(e));
}

void parse_guest(const std::string& file, unsigned line_no, const std::string& line,
                 std::vector<GuestMapEvent>& out) {
  // "... [000] .....    24.255351: map: IOMMU: iova=0x.. - 0x.. paddr=0x.. size=N"
  const bool map = line.find(": map: ") != std::string::npos;
  if (!map && line.find(": unmap: ") == std::string::npos) return;
  const auto colon = line.find(map ? ": map: " : ": unmap: ");
  auto start = line.rfind(' ', colon);
  GuestMapEvent g;
  g.map = map;
  g.time_s = std::strtod(line.c_str() + (start == std::string::npos ? 0 : start + 1), nullptr);
  const auto iova = line.find("iova=");
  const auto size = line.find(" size=");
  if (iova == std::string::npos || size == std::string::npos)
    bad(file, line_no, "expected an iommu map/unmap event with iova= and size=");
  g.iova = std::strtoull(line.c_str() + iova + 5, nullptr, 16);
  g.size = std::strtoull(line.c_str() + size + 6, nullptr, 10);
  const auto paddr = line.find("paddr=");
  if (paddr != std::string::npos) g.phys = std::strtoull(line.c_str() + paddr + 6, nullptr, 16);
  out.push_back(g);
}

}  // namespace

uint64_t LinuxCapture::reg(uint64_t offset) const {
  auto it = registers.find(offset & ~7ULL);
  return it == registers.end() ? 0 : it->second;
}

uint32_t LinuxCapture::reg32(uint64_t offset) const {
  return static_cast<uint32_t>(reg(offset) >> (8 * (offset & 4)));
}

std::string LinuxCapture::get(const std::string& key, const std::string& fallback) const {
  auto it = info.find(key);
  return it == info.end() ? fallback : it->second;
}

bool is_linux_capture(const std::string& path) {
  const fs::path p = fs::is_directory(path) ? fs::path(path) / "capture.txt" : fs::path(path);
  if (p.filename() != "capture.txt" || !fs::is_regular_file(p)) return false;
  std::ifstream f(p);
  std::string first;
  std::getline(f, first);
  return first == kCaptureSignature;
}

LinuxCapture read_linux_capture(const std::string& path) {
  LinuxCapture c;
  c.dir = capture_dir(path);
  const std::string& dir = c.dir;
  std::string line;
  unsigned n = 0;

  {
    std::ifstream f = open_in(dir, "capture.txt");
    while (std::getline(f, line)) {
      ++n;
      if (n == 1) {
        if (line != kCaptureSignature)
          bad(dir + "/capture.txt", 1, std::string("not a capture (expected '") + kCaptureSignature + "')");
        continue;
      }
      const auto sp = line.find(' ');
      if (line.empty() || line[0] == '#') continue;
      c.info[line.substr(0, sp)] = sp == std::string::npos ? "" : line.substr(sp + 1);
    }
  }
  {
    std::ifstream f = open_in(dir, "registers.txt");
    n = 0;
    while (std::getline(f, line)) {
      ++n;
      if (line.empty() || line[0] == '#') continue;
      uint64_t off = 0, value = 0;
      if (std::sscanf(line.c_str(), "0x%" SCNx64 " 0x%" SCNx64, &off, &value) != 2 || (off & 7))
        bad(dir + "/registers.txt", n, "expected '0xOFFSET 0xVALUE' with an 8-byte aligned offset");
      c.registers[off] = value;
    }
  }
  {
    std::ifstream f = open_in(dir, "memory.pages", std::ios::binary);
    for (;;) {
      uint8_t addr[8];
      if (!f.read(reinterpret_cast<char*>(addr), 8)) break;
      uint64_t a = 0;
      for (int i = 7; i >= 0; --i) a = (a << 8) | addr[i];
      std::vector<uint8_t> page(4096);
      if (!f.read(reinterpret_cast<char*>(page.data()), 4096) || (a & 0xFFF))
        throw CaptureError(dir + "/memory.pages: record " + std::to_string(c.pages.size()) +
                           " is cut short or not page aligned");
      c.pages.emplace_back(a, std::move(page));
    }
  }
  {
    std::ifstream f = open_in(dir, "qemu-vtd.trace");
    n = 0;
    while (std::getline(f, line)) {
      ++n;
      if (line.empty() || line[0] == '#') continue;
      parse_event(dir + "/qemu-vtd.trace", n, line, c.events);
    }
  }
  {
    std::ifstream f(dir + "/guest-ftrace.txt");  // optional
    n = 0;
    while (f && std::getline(f, line)) {
      ++n;
      if (line.empty() || line[0] == '#') continue;
      parse_guest(dir + "/guest-ftrace.txt", n, line, c.guest);
    }
  }
  return c;
}

}  // namespace iommu_sim
