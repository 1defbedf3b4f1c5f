// Host time of the full protection-strategies study (yaml/studies/strategies.yaml): every
// strategy x message size as its own iommu-sim process, with 1 and with 2 processes at once.
// Usage: strategies-bench [STUDY.yaml] [OUT_DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#ifndef IOMMU_SIM_EXE
#define IOMMU_SIM_EXE "iommu-sim"
#endif
#ifndef IOMMU_SIM_SOURCE_DIR
#define IOMMU_SIM_SOURCE_DIR "."
#endif

int main(int argc, char** argv) {
  if (argc > 3 || (argc > 1 && argv[1][0] == '-') || (argc > 2 && argv[2][0] == '-')) {
    std::fprintf(stderr, "usage: strategies-bench [STUDY.yaml] [OUT_DIR]\n");
    return 2;
  }
  const std::string study = argc > 1 ? argv[1] : IOMMU_SIM_SOURCE_DIR "/yaml/studies/strategies.yaml";
  const std::string out = argc > 2 ? argv[2] : "strategies-bench-out";
  for (int jobs : {1, 2}) {
    const std::string cmd = std::string(IOMMU_SIM_EXE) + " study " + study + " --out " + out +
                            " --quiet --jobs " + std::to_string(jobs);
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = std::system(cmd.c_str());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rc != 0) {
      std::fprintf(stderr, "strategies-bench: '%s' failed (%d)\n", cmd.c_str(), rc);
      return 1;
    }
    std::printf("full strategies study, %d job%s: %.2f s host time\n", jobs, jobs > 1 ? "s" : "", s);
  }
  return 0;
}
