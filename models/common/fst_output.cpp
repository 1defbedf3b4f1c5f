#include "iommu_sim/common/fst_output.h"

#include <stdexcept>
#include <vector>

#include "fstapi.h"

namespace iommu_sim {

namespace {

class FstOutput final : public WaveOutput {
 public:
  explicit FstOutput(const std::string& path) : m_ctx(fstWriterCreate(path.c_str(), 1)) {
    if (!m_ctx) throw std::runtime_error("cannot open waveform file '" + path + "' for writing");
    fstWriterSetPackType(m_ctx, FST_WR_PT_LZ4);  // what Verilator's traces use: fast to write
    fstWriterSetTimescale(m_ctx, -12);          // 1 ps
    fstWriterSetVersion(m_ctx, "iommu-sim");
  }
  ~FstOutput() override {
    if (m_ctx) fstWriterClose(m_ctx);
  }

  void scope(const std::string& name) override {
    fstWriterSetScope(m_ctx, FST_ST_VCD_MODULE, name.c_str(), nullptr);
  }
  void upscope() override { fstWriterSetUpscope(m_ctx); }
  void signal(uint32_t id, const std::string& name, unsigned width) override {
    if (id >= m_handles.size()) m_handles.resize(id + 1);
    m_handles[id] = fstWriterCreateVar(m_ctx, FST_VT_VCD_WIRE, FST_VD_IMPLICIT, width, name.c_str(), 0);
    if (id >= m_widths.size()) m_widths.resize(id + 1);
    m_widths[id] = width;
  }
  void end_declarations() override {}

  void time(uint64_t time_ps) override { fstWriterEmitTimeChange(m_ctx, time_ps); }
  void change(uint32_t id, uint64_t value) override {
    fstWriterEmitValueChange64(m_ctx, m_handles[id], m_widths[id], value);
  }

  void close() override {
    const bool failed = fstWriterGetFseekFailed(m_ctx) != 0;
    fstWriterClose(m_ctx);
    m_ctx = nullptr;
    if (failed) throw std::runtime_error("cannot write the waveform file");
  }

 private:
  void* m_ctx;
  std::vector<fstHandle> m_handles;
  std::vector<unsigned> m_widths;
};

}  // namespace

std::unique_ptr<WaveOutput> open_fst_output(const std::string& path) {
  return std::make_unique<FstOutput>(path);
}

}  // namespace iommu_sim
