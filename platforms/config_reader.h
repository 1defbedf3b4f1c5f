// Typed, validated access to a YAML platform description.
//
// Every key a model understands is read through a Section getter, which checks type and range and
// records the value in the effective configuration. Keys that nothing read are errors (finish()).
// Every error names where the value came from: `file:line:column` for the file, or the
// `--set key=value` that supplied it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace iommu_sim {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ConfigReader;

// One value of the effective configuration: a scalar or a flow list, as written back.
struct EffectiveValue {
  std::vector<std::string> items;
  bool list = false;
  bool text = false;  // user text (names, paths): quoted so that it reads back unchanged
  static EffectiveValue plain(std::string v) { return EffectiveValue{{std::move(v)}, false, false}; }
  static EffectiveValue quoted(std::vector<std::string> v, bool list) {
    return EffectiveValue{std::move(v), list, true};
  }
};

// A view on one YAML map, with its dotted path ("iommu.iotlb").
class Section {
 public:
  bool has(const std::string& key) const;
  const std::string& path() const { return m_path; }
  std::string path_of(const std::string& key) const;

  uint64_t get_u64(const std::string& key, uint64_t def, uint64_t min = 0,
                   uint64_t max = UINT64_MAX);
  unsigned get_uint(const std::string& key, unsigned def, unsigned min = 0,
                    unsigned max = UINT32_MAX);
  // Byte sizes: plain numbers, 0x hex, or a K/M/G (KiB/MiB/GiB) suffix.
  uint64_t get_size(const std::string& key, uint64_t def, uint64_t min = 0,
                    uint64_t max = UINT64_MAX);
  double get_double(const std::string& key, double def, double min, double max);
  bool get_bool(const std::string& key, bool def);
  std::string get_string(const std::string& key, const std::string& def);
  std::string get_enum(const std::string& key, const std::string& def,
                       const std::vector<std::string>& allowed);
  std::vector<std::string> get_string_list(const std::string& key);  // absent: empty
  std::vector<unsigned> get_uint_list(const std::string& key, const std::vector<unsigned>& def,
                                      unsigned min, unsigned max);

  // A nested map; an absent key gives an empty section (every getter returns its default).
  Section section(const std::string& key);
  // A sequence of maps; absent gives an empty vector.
  std::vector<Section> list(const std::string& key);

  // Throws ConfigError located at `key` (or at this section when key is empty).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  friend class ConfigReader;
  Section(ConfigReader* reader, YAML::Node node, std::string path)
      : m_reader(reader), m_node(std::move(node)), m_path(std::move(path)) {}
  // Marks the key read; false when absent. A key with no value is an error.
  bool scalar(const std::string& key, YAML::Node& out);

  ConfigReader* m_reader;
  YAML::Node m_node;  // a map, or null for an absent section
  std::string m_path;
};

class ConfigReader {
 public:
  // Throws ConfigError ("file:line:column: ...") on unreadable or malformed YAML.
  static ConfigReader from_file(const std::string& path);
  static ConfigReader from_text(const std::string& text, const std::string& display_name);

  // "dotted.key=value" (sequence items by index: "endpoints.0.vfs=4"). Malformed assignments
  // throw ConfigError; keys that no model reads are reported by finish().
  void apply_override(const std::string& assignment);

  Section root();
  // Throws ConfigError for the first key that nothing read.
  void finish() const;

  // Where a dotted key's value came from: "file:line:column", the --set that supplied it, or
  // the file's name alone when the key was left at its default.
  std::string where_is(const std::string& path) const;

  // The whole configuration as read, defaults included, as YAML text.
  std::string effective_yaml() const;
  const std::string& source_name() const { return m_source; }

 private:
  friend class Section;
  ConfigReader(YAML::Node root, std::string source) : m_root(std::move(root)), m_source(std::move(source)) {}
  std::string where(const std::string& path, const YAML::Mark& mark) const;
  void check_unread(const YAML::Node& node, const std::string& path) const;

  YAML::Node m_root;
  std::string m_source;
  std::set<std::string> m_read;                       // paths of keys read
  std::map<std::string, std::string> m_overrides;     // path -> the --set text that set it
  void put_effective(const std::string& path, const EffectiveValue& value);
  std::vector<std::pair<std::string, EffectiveValue>> m_effective;  // path -> value, in read order
  std::map<std::string, size_t> m_effective_index;
};

}  // namespace iommu_sim
