// Runs commands as child processes, at most N at a time: each sweep point is a full platform run
// in a process of its own, because the SystemC kernel cannot be restarted within one process.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace iommu_sim {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0]: a path (with '/') or a name looked up in PATH
  std::string log_path;           // stdout and stderr go here; stdin is /dev/null
  // Open descriptors the child gets as 3, 4, ... in this order (e.g. a pipe's write end, named
  // to it as /dev/fd/3). Nothing else of ours is inherited: the caller keeps them, and closes them.
  std::vector<int> pass_fds;
};

struct ProcessResult {
  bool started = false;
  std::string start_error;  // why it could not be started
  int exit_code = -1;       // when it exited normally
  int signal = 0;           // when a signal ended it
  bool timed_out = false;   // ended by us (SIGKILL) after the timeout
  double seconds = 0.0;

  bool ok() const { return started && exit_code == 0; }
  // "exit 1", "killed by signal 11", "timed out after 30 s", "cannot start: ..."
  std::string describe(double timeout_s) const;
};

// Runs every spec, `jobs` at a time; `done(i, result)` is called (from this thread) as each one
// finishes, in completion order. timeout_s <= 0: no timeout. Only the children it started are
// waited for or killed.
void run_processes(const std::vector<ProcessSpec>& specs, unsigned jobs, double timeout_s,
                   const std::function<void(size_t, const ProcessResult&)>& done);

// Runs one command to completion (no timeout).
ProcessResult run_process(const ProcessSpec& spec);

// The last non-empty line of a log, shortened: the likely error message of a failed run.
std::string last_log_line(const std::string& path);

}  // namespace iommu_sim
