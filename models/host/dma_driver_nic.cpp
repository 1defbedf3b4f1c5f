#include "iommu_sim/host/dma_driver_nic.h"

#include <vector>

#include "iommu_sim/common/bits.h"

namespace iommu_sim {

const char* violation_name(Violation v) {
  switch (v) {
    case Violation::BadAddress: return "bad_address";
    case Violation::InvalidUse: return "invalid_use";
    case Violation::BadDevice: return "bad_device";
    case Violation::Count: break;
  }
  return "?";
}

// ---------------------------------------------------------------- ProtectionProbe

void ProtectionProbe::arm(Violation v, uint64_t target_phys, uint32_t length) {
  Outcome& o = m_outcome[static_cast<unsigned>(v)];
  o.target_phys = target_phys;
  o.length = length;
  m_memory.fill(target_phys, kPattern, length);
}

void ProtectionProbe::judge(Violation v, uint64_t device_address, bool dma_ok) {
  Outcome& o = m_outcome[static_cast<unsigned>(v)];
  o.injected = true;
  o.device_address = device_address;
  o.dma_failed = !dma_ok;
  std::vector<uint8_t> now(o.length);
  m_memory.read(o.target_phys, now.data(), o.length);
  o.memory_intact = true;
  for (uint8_t b : now) o.memory_intact = o.memory_intact && b == kPattern;
}

void ProtectionProbe::fault_recorded(uint16_t, uint64_t page) {
  for (Outcome& o : m_outcome) {
    if (o.injected && (o.device_address & ~0xFFFULL) == (page & ~0xFFFULL)) o.fault_recorded = true;
  }
}

// ---------------------------------------------------------------- StudyNicWorkload

std::string validate(const StudyNicConfig& c) {
  if (!is_power_of_two(c.ring_size)) return "ring_size: must be a power of two";
  if (c.ring % 4096) return "ring: must be 4 KiB aligned";
  if (!(c.rate_gbps > 0)) return "rate_gbps: must be greater than 0";
  if (c.packets == 0) return "packets: must be at least 1";
  return "";
}

StudyNicWorkload::StudyNicWorkload(const StudyNicConfig& config, NicChannel& channel,
                                   ProtectionProbe& probe)
    : m_config(config), m_channel(channel), m_probe(probe) {}

void StudyNicWorkload::wait_until(DmaPort& port, const uint64_t& value, uint64_t above,
                                  const sc_core::sc_event& e) {
  if (value > above) return;
  port.sync();  // the wait starts at the device's own time, not the kernel's
  while (value <= above) sc_core::wait(e);
}

void StudyNicWorkload::run(DmaPort& port) {
  const StudyNicConfig& c = m_config;
  const FaultInjection& inj = c.inject;
  for (uint64_t p = 0; p < c.packets; ++p) {
    const uint64_t n = p + 1;  // packet numbers in FaultInjection are 1-based
    wait_until(port, m_channel.posted, p, m_channel.doorbell);
    const sc_core::sc_time arrival = port.now();
    const uint64_t desc_addr = c.ring + (p & (c.ring_size - 1)) * kDescBytes;
    uint64_t desc[2] = {0, 0};
    const bool desc_ok =
        port.read(desc_addr, reinterpret_cast<uint8_t*>(desc), kDescBytes) == tlm::TLM_OK_RESPONSE;
    const uint32_t length = static_cast<uint32_t>(desc[1]);
    bool ok = false;
    if (desc_ok && length > 0) {
      std::vector<uint8_t> data(length, static_cast<uint8_t>(p));
      ok = port.write(desc[0], data.data(), length) == tlm::TLM_OK_RESPONSE;
      if (n == inj.bad_address_at) m_probe.judge(Violation::BadAddress, desc[0], ok);
    }
    if (ok) {
      m_bytes += length;
    } else {
      ++m_errors;
    }
    if (n == inj.bad_device_at) {
      const std::vector<uint8_t> junk(64, 0x3B);
      const bool bad_ok = port.write(m_channel.victim_bad_device, junk.data(), 64) == tlm::TLM_OK_RESPONSE;
      m_probe.judge(Violation::BadDevice, m_channel.victim_bad_device, bad_ok);
    }
    desc[1] = length | kDone | (ok ? 0 : kError);
    port.write(desc_addr, reinterpret_cast<const uint8_t*>(desc), kDescBytes);
    // The completion is seen by the driver at the device's time.
    port.sync();
    m_channel.completed = n;
    m_channel.completion.notify(sc_core::SC_ZERO_TIME);
    if (n == inj.invalid_use_at && desc_ok && length > 0) {
      wait_until(port, m_channel.released, p, m_channel.release);
      if (inj.invalid_use_delay_ns > 0) port.delay(sc_core::sc_time(inj.invalid_use_delay_ns, sc_core::SC_NS));
      const std::vector<uint8_t> junk(length, 0x3C);
      const bool stale_ok = port.write(desc[0], junk.data(), length) == tlm::TLM_OK_RESPONSE;
      m_probe.judge(Violation::InvalidUse, desc[0], stale_ok);
    }
    // The next packet arrives one wire time after this one did.
    const sc_core::sc_time gap(length * 8.0 / c.rate_gbps, sc_core::SC_NS);
    const sc_core::sc_time spent = port.now() - arrival;
    if (spent < gap) port.delay(gap - spent);
  }
  port.sync();
}

}  // namespace iommu_sim
