#include "iommu_sim/platform/sweep/stats_json.h"

#include <cctype>
#include <cstdlib>
#include <iterator>

namespace iommu_sim {

namespace {

// A small recursive-descent parser: the stats files are flat and small, so clarity wins.
class Parser {
 public:
  Parser(const std::string& text, std::map<std::string, double>& out) : m_s(text), m_out(out) {}

  bool parse(std::string& error) {
    skip_ws();
    if (!value("")) {
      error = m_error + " at byte " + std::to_string(m_pos);
      return false;
    }
    skip_ws();
    if (m_pos != m_s.size()) {
      error = "text after the JSON value at byte " + std::to_string(m_pos);
      return false;
    }
    return true;
  }

 private:
  void skip_ws() {
    while (m_pos < m_s.size() && std::isspace(static_cast<unsigned char>(m_s[m_pos]))) ++m_pos;
  }
  bool fail(const std::string& what) {
    m_error = what;
    return false;
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (m_s.compare(m_pos, w.size(), w) != 0) return fail("unexpected character");
    m_pos += w.size();
    return true;
  }
  bool string(std::string& out) {
    if (m_pos >= m_s.size() || m_s[m_pos] != '"') return fail("expected a string");
    ++m_pos;
    while (m_pos < m_s.size() && m_s[m_pos] != '"') {
      char c = m_s[m_pos++];
      if (c == '\\') {
        if (m_pos >= m_s.size()) break;
        c = m_s[m_pos++];
        if (c == 'u') {
          m_pos += 4;  // names are ASCII; keep a placeholder for anything else
          c = '?';
        } else if (c == 'n') c = '\n';
        else if (c == 't') c = '\t';
      }
      out += c;
    }
    if (m_pos >= m_s.size()) return fail("unterminated string");
    ++m_pos;
    return true;
  }
  bool value(const std::string& name) {
    skip_ws();
    if (m_pos >= m_s.size()) return fail("unexpected end");
    const char c = m_s[m_pos];
    if (c == '{') return object(name);
    if (c == '[') return array();
    if (c == '"') {
      std::string ignored;
      return string(ignored);
    }
    if (c == 't') {
      if (!literal("true")) return false;
      m_out[name] = 1;
      return true;
    }
    if (c == 'f') {
      if (!literal("false")) return false;
      m_out[name] = 0;
      return true;
    }
    if (c == 'n') return literal("null");
    const char* begin = m_s.c_str() + m_pos;
    char* end = nullptr;
    const double v = std::strtod(begin, &end);
    if (end == begin) return fail("expected a value");
    m_pos += static_cast<size_t>(end - begin);
    m_out[name] = v;
    return true;
  }
  bool object(const std::string& prefix) {
    ++m_pos;
    skip_ws();
    if (m_pos < m_s.size() && m_s[m_pos] == '}') {
      ++m_pos;
      return true;
    }
    for (;;) {
      skip_ws();
      std::string key;
      if (!string(key)) return false;
      skip_ws();
      if (m_pos >= m_s.size() || m_s[m_pos] != ':') return fail("expected ':'");
      ++m_pos;
      if (!value(prefix.empty() ? key : prefix + "." + key)) return false;
      skip_ws();
      if (m_pos < m_s.size() && m_s[m_pos] == ',') {
        ++m_pos;
        continue;
      }
      if (m_pos < m_s.size() && m_s[m_pos] == '}') {
        ++m_pos;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }
  bool array() {
    ++m_pos;
    skip_ws();
    if (m_pos < m_s.size() && m_s[m_pos] == ']') {
      ++m_pos;
      return true;
    }
    // Arrays carry no summary numbers: parse and drop their contents.
    std::map<std::string, double> dropped;
    Parser inner(m_s, dropped);
    for (;;) {
      inner.m_pos = m_pos;
      if (!inner.value("")) return fail(inner.m_error);
      m_pos = inner.m_pos;
      skip_ws();
      if (m_pos < m_s.size() && m_s[m_pos] == ',') {
        ++m_pos;
        continue;
      }
      if (m_pos < m_s.size() && m_s[m_pos] == ']') {
        ++m_pos;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  const std::string& m_s;
  std::map<std::string, double>& m_out;
  size_t m_pos = 0;
  std::string m_error;
};

}  // namespace

bool read_stats_json(std::istream& is, std::map<std::string, double>& out, std::string& error) {
  const std::string text((std::istreambuf_iterator<char>(is)), std::istreambuf_iterator<char>());
  Parser p(text, out);
  return p.parse(error);
}

}  // namespace iommu_sim
