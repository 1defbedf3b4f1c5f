#pragma once
// What the subcommands of iommu-sim share in reading their command lines: the error a bad
// argument raises, an option's value, and the options several commands take (--set, --jobs).

#include <string>
#include <vector>

namespace iommu_sim {

// A bad command line. The message says what was wrong and what is accepted; the command prints
// it with its usage and exits with kExitBadInput.
struct UsageError {
  std::string message;
};

// The value of the option at args[i]: the next argument, and i moves onto it. A UsageError
// naming the option when there is none.
const std::string& option_value(const std::vector<std::string>& args, size_t& i);

// A --set assignment, KEY=VALUE with a non-empty key, returned as given; a UsageError otherwise.
const std::string& checked_assignment(const std::string& kv);

// A whole decimal number from lo to hi for `option`; a UsageError saying the range otherwise.
unsigned parse_whole_number(const std::string& option, const std::string& text, unsigned lo,
                            unsigned hi);

// --jobs N: a whole number from 1 to 1024.
unsigned parse_jobs(const std::string& text);

}  // namespace iommu_sim
