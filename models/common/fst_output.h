// The FST WaveOutput (GTKWave's FST writer, as Verilator ships it). Built only when that library
// is found (IOMMU_SIM_HAVE_FST); open_wave_output() is how the rest of the project gets one.
#pragma once

#include <memory>
#include <string>

#include "iommu_sim/common/wave_output.h"

namespace iommu_sim {

// Throws std::runtime_error when the file cannot be opened.
std::unique_ptr<WaveOutput> open_fst_output(const std::string& path);

}  // namespace iommu_sim
