#include "iommu_sim/common/wave_output.h"

#include <fstream>
#include <stdexcept>
#include <vector>

#ifdef IOMMU_SIM_HAVE_FST
#include "iommu_sim/common/fst_output.h"
#endif

namespace iommu_sim {

namespace {

// Value Change Dump (IEEE 1364 section 18), one identifier code per signal.
class VcdOutput final : public WaveOutput {
 public:
  explicit VcdOutput(const std::string& path) : m_out(path) {
    if (!m_out) throw std::runtime_error("cannot open waveform file '" + path + "' for writing");
    m_out << "$date generated $end\n$version iommu-sim $end\n$timescale 1ps $end\n";
  }

  void scope(const std::string& name) override { m_out << "$scope module " << name << " $end\n"; }
  void upscope() override { m_out << "$upscope $end\n"; }
  void signal(uint32_t id, const std::string& name, unsigned width) override {
    if (id >= m_codes.size()) {
      m_codes.resize(id + 1);
      m_widths.resize(id + 1);
    }
    m_codes[id] = id_code(id);
    m_widths[id] = width;
    m_out << "$var wire " << width << " " << m_codes[id] << " " << name << " $end\n";
  }
  void end_declarations() override {
    m_out << "$enddefinitions $end\n$dumpvars\n";
    m_in_dumpvars = true;
  }

  void time(uint64_t time_ps) override {
    end_dumpvars();
    m_out << "#" << time_ps << "\n";
  }
  void change(uint32_t id, uint64_t value) override {
    const unsigned width = m_widths[id];
    if (width == 1) {
      m_out << ((value & 1) ? '1' : '0') << m_codes[id] << "\n";
      return;
    }
    std::string bits;
    for (int b = static_cast<int>(width) - 1; b >= 0; --b) bits.push_back(((value >> b) & 1) ? '1' : '0');
    const auto first_one = bits.find('1');
    m_out << "b" << (first_one == std::string::npos ? "0" : bits.substr(first_one)) << " " << m_codes[id]
          << "\n";
  }

  void close() override {
    end_dumpvars();
    m_out.close();
    if (!m_out) throw std::runtime_error("cannot write the waveform file");
  }

 private:
  static std::string id_code(uint32_t n) {
    std::string s;
    do {
      s.push_back(static_cast<char>('!' + n % 94));
      n /= 94;
    } while (n);
    return s;
  }
  void end_dumpvars() {
    if (!m_in_dumpvars) return;
    m_out << "$end\n";
    m_in_dumpvars = false;
  }

  std::ofstream m_out;
  std::vector<std::string> m_codes;
  std::vector<unsigned> m_widths;
  bool m_in_dumpvars = false;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::unique_ptr<WaveOutput> open_wave_output(const std::string& path) {
  if (ends_with(path, ".vcd")) return std::make_unique<VcdOutput>(path);
  if (ends_with(path, ".fst")) {
#ifdef IOMMU_SIM_HAVE_FST
    return open_fst_output(path);
#else
    throw std::runtime_error("'" + path + "': this build has no FST writer (it was built without "
                             "Verilator's GTKWave FST library): write .vcd");
#endif
  }
  throw std::invalid_argument("'" + path + "': the waveform format is chosen by the extension: "
                              "accepted are .vcd (VCD) and .fst (FST)");
}

}  // namespace iommu_sim
