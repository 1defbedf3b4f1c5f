// Reader of a capture of Linux driving QEMU's VT-d (tools/linux-capture/): the front end of
// `iommu-sim replay`. A capture is a directory:
//   capture.txt      what was captured (key value lines; the first line names the format)
//   registers.txt    the remapping unit's registers at the end of the run ("0xOFF 0xVALUE")
//   memory.pages     guest memory pages the replay needs: records of an 8-byte little-endian
//                    physical address followed by the 4 KiB page
//   qemu-vtd.trace   QEMU's vtd_* trace events ("PID@SEC.USEC:event args", -msg timestamp=on)
//   guest-ftrace.txt the guest's own iommu:map / iommu:unmap events (ftrace text)
// Plain C++: the replay (replay.h) turns the events into register writes, DMA and MSIs.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace iommu_sim {

// A malformed or missing capture file: the message names file:line.
class CaptureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One QEMU trace event the replay uses, in trace order.
struct CaptureEvent {
  enum class Kind {
    RegWrite,      // vtd_reg_write: a = offset, b = size, c = value
    InvDesc,       // vtd_inv_desc: a = low qword, b = high qword (type name in text)
    ContextEntry,  // vtd_iotlb_cc_hit / _update: sid, a = low, b = high
    Leaf,          // vtd_iotlb_page_hit / _update: sid, a = iova, b = slpte, c = domain, hit
    Translate,     // vtd_dmar_translate: sid, a = iova, b = gpa, c = mask
    DmaFault,      // vtd_dmar_fault: sid, a = address, b = reason, write
    FaultDisabled, // vtd_fault_disabled: a qualified fault suppressed by FPD (no details)
    MsiRequest,    // vtd_ir_remap_msi_req: a = address, b = data
    IrteRead,      // vtd_ir_irte_get: a = index, b = low qword, c = high qword of the IRTE
    MsiRemapped,   // vtd_ir_remap_msi: a = address in, b = data in, c = address out, d = data out
  };
  Kind kind = Kind::RegWrite;
  double time_s = 0;  // host time of the event
  uint16_t sid = 0;
  bool hit = false, write = false;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  std::string text;   // InvDesc: the type QEMU named
  unsigned line = 0;  // in qemu-vtd.trace
};

// One guest iommu:map or iommu:unmap event.
struct GuestMapEvent {
  bool map = true;
  double time_s = 0;  // guest clock
  uint64_t iova = 0, size = 0, phys = 0;
};

struct LinuxCapture {
  std::string dir;
  std::map<std::string, std::string> info;   // capture.txt
  std::map<uint64_t, uint64_t> registers;    // 8-byte aligned offset -> value
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> pages;  // physical address, 4 KiB
  std::vector<CaptureEvent> events;
  std::vector<GuestMapEvent> guest;

  uint64_t reg(uint64_t offset) const;                 // qword at an 8-aligned offset, 0 if absent
  uint32_t reg32(uint64_t offset) const;               // dword at a 4-aligned offset
  std::string get(const std::string& key, const std::string& fallback = "") const;
};

// The first line of capture.txt, which says a file is a capture (and not a platform).
extern const char* const kCaptureSignature;

// True when `path` is a capture directory or its capture.txt.
bool is_linux_capture(const std::string& path);

// Reads a capture (directory or its capture.txt). Throws CaptureError.
LinuxCapture read_linux_capture(const std::string& path);

}  // namespace iommu_sim
