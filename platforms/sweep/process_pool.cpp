#include "iommu_sim/platform/sweep/process_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <cstring>
#include <thread>

extern char** environ;

namespace iommu_sim {

namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  size_t index;
  pid_t pid;
  Clock::time_point start;
};

ProcessResult spawn(const ProcessSpec& spec, pid_t& pid) {
  ProcessResult r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, spec.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  // Passed descriptors go through copies above every target number, so that moving one into
  // place never overwrites another still to be moved (and a dup2 onto itself, which would keep
  // close-on-exec, cannot happen). The copies are close-on-exec: the child keeps only 3, 4, ...
  const int first = 3;
  const int targets_end = first + static_cast<int>(spec.pass_fds.size());
  std::vector<int> copies;
  for (size_t i = 0; i < spec.pass_fds.size(); ++i) {
    const int copy = fcntl(spec.pass_fds[i], F_DUPFD_CLOEXEC, targets_end);
    if (copy < 0) {
      r.start_error = "cannot pass descriptor " + std::to_string(spec.pass_fds[i]) + ": " + std::strerror(errno);
      for (int c : copies) close(c);
      posix_spawn_file_actions_destroy(&fa);
      return r;
    }
    copies.push_back(copy);
    posix_spawn_file_actions_adddup2(&fa, copy, first + static_cast<int>(i));
  }
  std::vector<char*> argv;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const bool has_slash = spec.argv[0].find('/') != std::string::npos;
  const int rc = has_slash ? posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ)
                           : posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  for (int c : copies) close(c);
  if (rc != 0) {
    r.start_error = spec.argv[0] + ": " + std::strerror(rc);
    return r;
  }
  r.started = true;
  return r;
}

void decode(int status, ProcessResult& r) {
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
}

}  // namespace

std::string ProcessResult::describe(double timeout_s) const {
  if (!started) return "cannot start: " + start_error;
  if (timed_out) return "timed out after " + std::to_string(static_cast<long>(timeout_s)) + " s";
  if (signal) return "killed by signal " + std::to_string(signal);
  return "exit " + std::to_string(exit_code);
}

void run_processes(const std::vector<ProcessSpec>& specs, unsigned jobs, double timeout_s,
                   const std::function<void(size_t, const ProcessResult&)>& done) {
  if (jobs == 0) jobs = 1;
  std::vector<Running> running;
  size_t next = 0;
  while (next < specs.size() || !running.empty()) {
    while (next < specs.size() && running.size() < jobs) {
      pid_t pid = 0;
      ProcessResult r = spawn(specs[next], pid);
      if (!r.started) done(next, r);
      else running.push_back({next, pid, Clock::now()});
      ++next;
    }
    bool reaped = false;
    for (size_t i = 0; i < running.size();) {
      const Running& job = running[i];
      int status = 0;
      const pid_t got = waitpid(job.pid, &status, WNOHANG);
      const double seconds =
          std::chrono::duration<double>(Clock::now() - job.start).count();
      ProcessResult r;
      r.started = true;
      r.seconds = seconds;
      if (got == job.pid) {
        decode(status, r);
      } else if (got < 0) {
        r.exit_code = -1;  // lost track of it (cannot happen for our own child)
      } else if (timeout_s > 0 && seconds > timeout_s) {
        kill(job.pid, SIGKILL);
        waitpid(job.pid, &status, 0);
        r.timed_out = true;
        decode(status, r);
      } else {
        ++i;
        continue;
      }
      const size_t index = job.index;
      running.erase(running.begin() + static_cast<long>(i));
      done(index, r);
      reaped = true;
    }
    // Polling each child keeps us from reaping processes that others in this program started.
    if (!reaped && !running.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

ProcessResult run_process(const ProcessSpec& spec) {
  ProcessResult out;
  run_processes({spec}, 1, 0, [&](size_t, const ProcessResult& r) { out = r; });
  return out;
}

std::string last_log_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  if (last.size() > 300) last = last.substr(0, 300) + "...";
  return last;
}

}  // namespace iommu_sim
