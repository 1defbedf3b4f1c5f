#include "iommu_sim/platform/command_line.h"
#include "iommu_sim/platform/trace_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "iommu_sim/platform/exit_codes.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"

namespace iommu_sim {

namespace {

namespace fs = std::filesystem;

const char* kUsage =
    "usage: iommu-sim trace convert IN OUT [--to text|binary]\n"
    "  Copies the IOTLB trace IN (text or binary, recognised by its header) to OUT, in the\n"
    "  format --to names (default: the one IN is not in). Operations and whole-line comments\n"
    "  are kept, in order. OUT is written only when all of IN is valid.\n";

struct ConvertOptions {
  std::string in, out;
  bool to_given = false;
  IotlbTraceFormat to = IotlbTraceFormat::Binary;
};

ConvertOptions parse_convert(const std::vector<std::string>& args) {
  ConvertOptions o;
  std::vector<std::string> files;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--to" || a.rfind("--to=", 0) == 0) {
      std::string v;
      if (a == "--to") {
        if (i + 1 >= args.size()) throw UsageError{"--to needs a value: text or binary"};
        v = args[++i];
      } else {
        v = a.substr(5);
      }
      if (!parse_iotlb_trace_format(v, o.to))
        throw UsageError{"--to " + v + ": accepted are text and binary"};
      o.to_given = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"unknown option '" + a + "': accepted is --to text|binary"};
    } else {
      files.push_back(a);
    }
  }
  if (files.size() != 2)
    throw UsageError{"convert takes an input and an output file, got " +
                     std::to_string(files.size()) + " file names"};
  o.in = files[0];
  o.out = files[1];
  return o;
}

// The format of the trace at `path` as a reader sees it: its first bytes.
IotlbTraceFormat format_of(std::istream& in) {
  IotlbTraceReader reader(in);
  IotlbOp op;
  std::string comment;
  reader.next_item(op, comment);
  return reader.format();
}

int convert(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const ConvertOptions o = parse_convert(args);
  std::error_code ec;
  if (fs::exists(o.out, ec) && fs::equivalent(o.in, o.out, ec)) {
    err << "trace: " << o.in << " and " << o.out << " are the same file\n";
    return kExitBadInput;
  }
  std::ifstream in(o.in, std::ios::binary);
  if (!in) {
    err << "trace: cannot open " << o.in << "\n";
    return kExitBadInput;
  }
  const IotlbTraceFormat from = format_of(in);
  const IotlbTraceFormat to =
      o.to_given ? o.to
                 : (from == IotlbTraceFormat::Text ? IotlbTraceFormat::Binary
                                                   : IotlbTraceFormat::Text);
  in.clear();
  in.seekg(0);

  // Into a file beside OUT, renamed over it once everything converted: a bad input line never
  // leaves half a trace under OUT's name, nor destroys an OUT that was there.
  const std::string partial = o.out + ".partial";
  std::ofstream file(partial, std::ios::binary | std::ios::trunc);
  if (!file) {
    err << "trace: cannot write " << partial << "\n";
    return kExitBadInput;
  }
  std::string error;
  uint64_t ops = 0;
  const bool ok = convert_iotlb_trace(in, file, to, error, &ops);
  file.close();
  if (!ok || !file) {
    fs::remove(partial, ec);
    err << "trace: " << (ok ? o.out : o.in) << ": "
        << (ok ? "cannot write the converted trace" : error) << "\n";
    return kExitBadInput;
  }
  fs::rename(partial, o.out, ec);
  if (ec) {
    fs::remove(partial, ec);
    err << "trace: cannot write " << o.out << ": " << ec.message() << "\n";
    return kExitBadInput;
  }
  out << "trace: " << o.in << " (" << to_string(from) << ", " << ops << " operations) -> "
      << o.out << " (" << to_string(to) << ", " << fs::file_size(o.out, ec) << " bytes)\n";
  return kExitOk;
}

}  // namespace

int trace_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? kExitBadInput : kExitOk;
  }
  try {
    if (args[0] == "convert") return convert(args, out, err);
    throw UsageError{"unknown trace command '" + args[0] + "': accepted is convert"};
  } catch (const UsageError& e) {
    err << "trace: " << e.message << "\n" << kUsage;
    return kExitBadInput;
  }
}

}  // namespace iommu_sim
