#include "iommu_sim/platform/config_reader.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "iommu_sim/common/parse_number.h"

namespace iommu_sim {

namespace {

bool is_index(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string part;
  std::stringstream ss(path);
  while (std::getline(ss, part, '.')) parts.push_back(part);
  return parts;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out;
}

// Parses an unsigned integer: decimal or 0x hex, optional K/M/G[iB] suffix when sizes allowed.
bool parse_number(std::string text, bool allow_suffix, uint64_t& out) {
  text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
  if (text.empty()) return false;
  uint64_t mult = 1;
  if (allow_suffix) {
    std::string upper = text;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    auto strip = [&](const std::string& suffix, uint64_t m) {
      if (upper.size() > suffix.size() && upper.compare(upper.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          upper.rfind("0X", 0) != 0) {
        text.resize(text.size() - suffix.size());
        mult = m;
        return true;
      }
      return false;
    };
    strip("KIB", 1ULL << 10) || strip("MIB", 1ULL << 20) || strip("GIB", 1ULL << 30) ||
        strip("TIB", 1ULL << 40) || strip("K", 1ULL << 10) || strip("M", 1ULL << 20) ||
        strip("G", 1ULL << 30) || strip("T", 1ULL << 40);
  }
  uint64_t v = 0;
  if (!iommu_sim::parse_u64(text, v)) return false;
  if (mult != 1 && v > UINT64_MAX / mult) return false;
  out = v * mult;
  return true;
}

std::string mark_text(const YAML::Mark& m) {
  return std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

// Keys are plain names: a dotted key could not be told apart from a nested one (in --set, in
// error messages, in the effective configuration), and YAML keeps a duplicate key where the
// reader would see only the first. Returns "" or the problem, and where it is.
std::string check_keys(const YAML::Node& node, YAML::Mark& where) {
  if (node.IsMap()) {
    std::map<std::string, YAML::Mark> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      where = it->first.Mark();
      if (!it->first.IsScalar()) return "a key must be a plain name, not a list or a map";
      const std::string key = it->first.Scalar();
      if (key.empty()) return "a key must not be empty";
      if (key.find('.') != std::string::npos)
        return "key '" + key + "' contains a dot: write nested sections instead";
      const auto [first, fresh] = seen.emplace(key, it->first.Mark());
      if (!fresh) return "key '" + key + "' appears twice (first at line " + mark_text(first->second) + ")";
      if (std::string p = check_keys(it->second, where); !p.empty()) return p;
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node)
      if (std::string p = check_keys(item, where); !p.empty()) return p;
  }
  return "";
}

std::string node_text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

// The effective configuration, kept in the order it was read.
struct EffectiveTree {
  EffectiveValue value;
  std::vector<std::pair<std::string, EffectiveTree>> children;
  bool sequence = false;

  EffectiveTree& child(const std::string& key) {
    for (auto& [k, v] : children)
      if (k == key) return v;
    children.emplace_back(key, EffectiveTree{});
    return children.back().second;
  }
  // Text the user wrote (names, paths) is always double-quoted, so that whatever it holds (a
  // leading '[', "null", "yes", '#', a newline) reads back as the same string.
  void emit_scalar(YAML::Emitter& e, const std::string& item) const {
    if (value.text) e << YAML::DoubleQuoted;
    e << item;
  }
  void emit(YAML::Emitter& e) const {
    if (children.empty()) {
      if (value.list) {
        e << YAML::Flow << YAML::BeginSeq;
        for (const auto& item : value.items) emit_scalar(e, item);
        e << YAML::EndSeq;
      } else {
        emit_scalar(e, value.items.empty() ? std::string() : value.items.front());
      }
      return;
    }
    if (sequence) {
      e << YAML::BeginSeq;
      for (auto& [k, v] : children) v.emit(e);
      e << YAML::EndSeq;
    } else {
      e << YAML::BeginMap;
      for (auto& [k, v] : children) {
        e << YAML::Key << k << YAML::Value;
        v.emit(e);
      }
      e << YAML::EndMap;
    }
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// ConfigReader

ConfigReader ConfigReader::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_text(ss.str(), path);
}

ConfigReader ConfigReader::from_text(const std::string& text, const std::string& display_name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(display_name + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    throw ConfigError(display_name + ":" + mark_text(root.Mark()) +
                      ": the platform description must be a map of sections");
  }
  YAML::Mark mark;
  if (const std::string p = check_keys(root, mark); !p.empty())
    throw ConfigError(display_name + ":" + mark_text(mark) + ": " + p);
  return ConfigReader(root, display_name);
}

void ConfigReader::apply_override(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set " + assignment + ": expected KEY=VALUE (for example iommu.iotlb.ways=8)");
  }
  const std::string path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  const auto parts = split_path(path);
  for (const auto& p : parts) {
    if (p.empty()) throw ConfigError("--set " + assignment + ": empty component in key '" + path + "'");
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::ParserException& e) {
    throw ConfigError("--set " + assignment + ": value is not valid YAML: " + e.msg);
  }
  if (value.empty()) parsed = YAML::Node(std::string());
  YAML::Mark mark;
  if (const std::string p = check_keys(parsed, mark); !p.empty())
    throw ConfigError("--set " + assignment + ": " + p);

  // A list index, checked against the list's length without converting what cannot be one.
  const auto item = [](const YAML::Node& list, const std::string& part, size_t& index) {
    uint64_t v = 0;
    if (!is_index(part) || !parse_digits_u64(part, 10, v) || v >= list.size()) return false;
    index = static_cast<size_t>(v);
    return true;
  };
  YAML::Node node = m_root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next;
    size_t index = 0;
    if (node.IsSequence()) {
      if (!item(node, parts[i], index))
        throw ConfigError("--set " + assignment + ": '" + parts[i] + "' is not an item of the list at '" +
                          join(std::vector<std::string>(parts.begin(), parts.begin() + i)) + "'");
      next.reset(node[index]);
    } else {
      if (!node.IsMap()) {
        throw ConfigError("--set " + assignment + ": '" + parts[i - 1] + "' is a value, not a section");
      }
      if (!node[parts[i]]) node[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next.reset(node[parts[i]]);
    }
    node.reset(next);
  }
  const std::string& last = parts.back();
  size_t index = 0;
  if (node.IsSequence()) {
    if (!item(node, last, index))
      throw ConfigError("--set " + assignment + ": '" + last + "' is not an item of the list");
    node[index] = parsed;
  } else if (node.IsMap()) {
    const YAML::Node& existing = static_cast<const YAML::Node&>(node)[last];
    if (existing && existing.IsMap() && !parsed.IsMap())
      throw ConfigError("--set " + assignment + ": '" + path + "' is a section, not a value");
    node[last] = parsed;
  } else {
    throw ConfigError("--set " + assignment + ": the parent of '" + last + "' is a value, not a section");
  }
  m_overrides[path] = "--set " + assignment;
}

Section ConfigReader::root() { return Section(this, m_root, ""); }

std::string ConfigReader::where(const std::string& path, const YAML::Mark& mark) const {
  if (auto it = m_overrides.find(path); it != m_overrides.end()) return it->second;
  if (mark.is_null() || mark.line < 0) return m_source;
  return m_source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::string ConfigReader::where_is(const std::string& path) const {
  YAML::Node node = m_root;
  YAML::Mark mark = YAML::Mark::null_mark();
  for (const std::string& part : split_path(path)) {
    YAML::Node next;
    uint64_t index = 0;
    if (node.IsSequence() && parse_digits_u64(part, 10, index) && index < node.size()) {
      next.reset(node[index]);
    } else if (node.IsMap()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (it->first.Scalar() == part) next.reset(it->second);
      }
    }
    if (!next.IsDefined() || next.IsNull()) return where(path, YAML::Mark::null_mark());
    node.reset(next);
    mark = node.Mark();
  }
  return where(path, mark);
}

void ConfigReader::check_unread(const YAML::Node& node, const std::string& path) const {
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      const std::string child = path.empty() ? key : path + "." + key;
      if (!m_read.count(child)) {
        const std::string parent = path.empty() ? "the top level" : "'" + path + "'";
        throw ConfigError(where(child, it->first.Mark()) + ": unknown key '" + key + "' in " + parent);
      }
      check_unread(it->second, child);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) check_unread(node[i], path + "." + std::to_string(i));
  }
}

void ConfigReader::finish() const { check_unread(m_root, ""); }

// ---------------------------------------------------------------------------------------------
// Section

std::string Section::path_of(const std::string& key) const {
  return m_path.empty() ? key : m_path + "." + key;
}

bool Section::has(const std::string& key) const {
  if (!m_node || !m_node.IsMap()) return false;
  const YAML::Node& n = m_node;
  return static_cast<bool>(n[key]);
}

void Section::fail(const std::string& key, const std::string& message) const {
  if (key.empty()) {
    const std::string where = m_reader->where(m_path, m_node ? m_node.Mark() : YAML::Mark::null_mark());
    throw ConfigError(where + ": " + (m_path.empty() ? "" : "'" + m_path + "': ") + message);
  }
  YAML::Mark mark = YAML::Mark::null_mark();
  if (m_node && m_node.IsMap()) {
    for (auto it = m_node.begin(); it != m_node.end(); ++it) {
      if (it->first.Scalar() == key) {
        mark = it->second.Mark();
        break;
      }
    }
  }
  if (mark.is_null() && m_node) mark = m_node.Mark();
  throw ConfigError(m_reader->where(path_of(key), mark) + ": key '" + path_of(key) + "': " + message);
}

bool Section::scalar(const std::string& key, YAML::Node& out) {
  m_reader->m_read.insert(path_of(key));
  if (!has(key)) return false;
  const YAML::Node& map = m_node;
  out.reset(map[key]);
  if (out.IsNull()) fail(key, "has no value");
  return true;
}

uint64_t Section::get_u64(const std::string& key, uint64_t def, uint64_t min, uint64_t max) {
  YAML::Node n;
  const bool present = scalar(key, n);
  uint64_t v = def;
  if (present) {
    if (!n.IsScalar() || !parse_number(n.Scalar(), false, v))
      fail(key, "expected an unsigned integer (decimal or 0x hex), got '" + node_text(n) + "'");
  }
  if (v < min || v > max)
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + " (got " +
                  std::to_string(v) + ")");
  m_reader->put_effective(path_of(key), EffectiveValue::plain(std::to_string(v)));
  return v;
}

unsigned Section::get_uint(const std::string& key, unsigned def, unsigned min, unsigned max) {
  return static_cast<unsigned>(get_u64(key, def, min, max));
}

uint64_t Section::get_size(const std::string& key, uint64_t def, uint64_t min, uint64_t max) {
  YAML::Node n;
  const bool present = scalar(key, n);
  uint64_t v = def;
  if (present) {
    if (!n.IsScalar() || !parse_number(n.Scalar(), true, v))
      fail(key, "expected a size in bytes (e.g. 4096, 0x1000, 64K, 2MiB), got '" + node_text(n) + "'");
  }
  if (v < min || v > max)
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + " (got " +
                  std::to_string(v) + ")");
  std::ostringstream hex;
  hex << "0x" << std::hex << v;
  m_reader->put_effective(path_of(key), EffectiveValue::plain(hex.str()));
  return v;
}

double Section::get_double(const std::string& key, double def, double min, double max) {
  YAML::Node n;
  const bool present = scalar(key, n);
  double v = def;
  if (present) {
    char* end = nullptr;
    const std::string text = n.IsScalar() ? n.Scalar() : "";
    v = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0' || !std::isfinite(v))
      fail(key, "expected a number, got '" + node_text(n) + "'");
  }
  if (v < min || v > max) {
    std::ostringstream os;
    os << "must be between " << min << " and " << max << " (got " << v << ")";
    fail(key, os.str());
  }
  // The shortest text that reads back as the same double.
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  m_reader->put_effective(path_of(key), EffectiveValue::plain(std::string(buf, r.ptr)));
  return v;
}

bool Section::get_bool(const std::string& key, bool def) {
  YAML::Node n;
  const bool present = scalar(key, n);
  bool v = def;
  if (present) {
    const std::string t = n.IsScalar() ? n.Scalar() : "";
    if (t == "true" || t == "yes" || t == "on") {
      v = true;
    } else if (t == "false" || t == "no" || t == "off") {
      v = false;
    } else {
      fail(key, "expected true or false, got '" + node_text(n) + "'");
    }
  }
  m_reader->put_effective(path_of(key), EffectiveValue::plain(v ? "true" : "false"));
  return v;
}

std::string Section::get_string(const std::string& key, const std::string& def) {
  YAML::Node n;
  const bool present = scalar(key, n);
  std::string v = def;
  if (present) {
    if (!n.IsScalar()) fail(key, "expected a string, got '" + node_text(n) + "'");
    v = n.Scalar();
  }
  m_reader->put_effective(path_of(key), EffectiveValue::quoted({v}, false));
  return v;
}

std::string Section::get_enum(const std::string& key, const std::string& def,
                              const std::vector<std::string>& allowed) {
  YAML::Node n;
  const bool present = scalar(key, n);
  std::string v = def;
  if (present) {
    if (!n.IsScalar()) fail(key, "expected one of: " + join(allowed));
    v = n.Scalar();
  }
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
    fail(key, "'" + v + "' is not accepted; expected one of: " + join(allowed));
  m_reader->put_effective(path_of(key), EffectiveValue::plain(v));
  return v;
}

std::vector<unsigned> Section::get_uint_list(const std::string& key,
                                             const std::vector<unsigned>& def, unsigned min,
                                             unsigned max) {
  YAML::Node n;
  const bool present = scalar(key, n);
  std::vector<unsigned> out = def;
  if (present) {
    if (!n.IsSequence()) fail(key, "expected a list of integers, got '" + node_text(n) + "'");
    out.clear();
    for (const auto& item : n) {
      uint64_t v = 0;
      if (!item.IsScalar() || !parse_number(item.Scalar(), false, v) || v < min || v > max)
        fail(key, "every item must be an integer between " + std::to_string(min) + " and " +
                      std::to_string(max) + " (got '" + node_text(item) + "')");
      out.push_back(static_cast<unsigned>(v));
    }
  }
  EffectiveValue e;
  e.list = true;
  for (unsigned v : out) e.items.push_back(std::to_string(v));
  m_reader->put_effective(path_of(key), e);
  return out;
}

std::vector<std::string> Section::get_string_list(const std::string& key) {
  YAML::Node n;
  const bool present = scalar(key, n);
  std::vector<std::string> out;
  if (present) {
    if (!n.IsSequence()) fail(key, "expected a list, e.g. [\"00:02.0\"], got '" + node_text(n) + "'");
    for (const auto& item : n) {
      if (!item.IsScalar()) fail(key, "every item must be a string (got '" + node_text(item) + "')");
      out.push_back(item.Scalar());
    }
  }
  m_reader->put_effective(path_of(key), EffectiveValue::quoted(out, true));
  return out;
}

Section Section::section(const std::string& key) {
  m_reader->m_read.insert(path_of(key));
  if (!has(key)) return Section(m_reader, YAML::Node(), path_of(key));
  const YAML::Node& map = m_node;
  YAML::Node n = map[key];
  if (n.IsNull()) return Section(m_reader, YAML::Node(), path_of(key));
  if (!n.IsMap()) fail(key, "expected a section (a map of keys), got '" + node_text(n) + "'");
  return Section(m_reader, n, path_of(key));
}

std::vector<Section> Section::list(const std::string& key) {
  m_reader->m_read.insert(path_of(key));
  std::vector<Section> out;
  if (!has(key)) return out;
  const YAML::Node& map = m_node;
  YAML::Node n = map[key];
  if (n.IsNull()) return out;
  if (!n.IsSequence()) fail(key, "expected a list, got '" + node_text(n) + "'");
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string item_path = path_of(key) + "." + std::to_string(i);
    m_reader->m_read.insert(item_path);
    if (!n[i].IsMap()) {
      throw ConfigError(m_reader->where(item_path, n[i].Mark()) + ": item " + std::to_string(i) +
                        " of '" + path_of(key) + "' must be a map of keys");
    }
    out.push_back(Section(m_reader, n[i], item_path));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Effective configuration

void ConfigReader::put_effective(const std::string& path, const EffectiveValue& value) {
  auto it = m_effective_index.find(path);
  if (it != m_effective_index.end()) {
    m_effective[it->second].second = value;
    return;
  }
  m_effective_index[path] = m_effective.size();
  m_effective.emplace_back(path, value);
}

std::string ConfigReader::effective_yaml() const {
  EffectiveTree tree;
  for (const auto& [path, value] : m_effective) {
    EffectiveTree* node = &tree;
    for (const auto& part : split_path(path)) {
      if (is_index(part)) node->sequence = true;
      node = &node->child(part);
    }
    node->value = value;
  }
  YAML::Emitter e;
  e << YAML::Comment("effective configuration: every value used, defaults included");
  tree.emit(e);
  return std::string(e.c_str()) + "\n";
}

}  // namespace iommu_sim
