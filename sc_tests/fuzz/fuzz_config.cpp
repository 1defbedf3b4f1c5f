// The YAML front end: any text is a description read to the end or refused with a ConfigError
// (never another exception, a crash or a hang); what it accepts, its effective configuration
// reads back to the same effective configuration (the round trip of every value).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "iommu_sim/platform/config_reader.h"
#include "iommu_sim/platform/platform_config.h"

using namespace iommu_sim;

// libFuzzer brings main(); the platform library's SystemC still asks for an sc_main.
int sc_main(int, char**) { return 0; }

namespace {
std::string effective_of(const std::string& text, const std::string& name) {
  ConfigReader reader = ConfigReader::from_text(text, name);
  read_platform_config(reader.root());
  reader.finish();
  return reader.effective_yaml();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;  // descriptions are short; long ones only slow the search
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string effective;
  try {
    effective = effective_of(text, "fuzz.yaml");
  } catch (const ConfigError&) {
    return 0;  // refused, with a message: fine
  }
  std::string again;
  try {
    again = effective_of(effective, "effective.yaml");
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "the effective configuration does not read back: %s\n%s\n", e.what(),
                 effective.c_str());
    std::abort();
  }
  if (again != effective) {
    std::fprintf(stderr, "the effective configuration changes on reading back:\n%s\n---\n%s\n",
                 effective.c_str(), again.c_str());
    std::abort();
  }
  return 0;
}
