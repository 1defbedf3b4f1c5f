// A pipe whose read end is a std::istream: a child process writes a stream into the write end
// (handed to it as /dev/fd/N, process_pool.h) while this process reads it, with the readers it
// uses for files, as the child runs.
#pragma once

#include <istream>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

namespace iommu_sim {

// The read side of a descriptor as a stream buffer. Bulk reads (istream::read) are filled
// whole unless the writers are gone, as from a file, so a short read means the end. A read
// error sets the stream's badbit. Every byte read is also written to `copy` when given.
class DescriptorReadBuf : public std::streambuf {
 public:
  explicit DescriptorReadBuf(int fd, std::ostream* copy = nullptr);

 protected:
  int_type underflow() override;
  std::streamsize xsgetn(char* s, std::streamsize n) override;

 private:
  // Up to n bytes into s: 0 at the end; throws on a read error (istream turns it into badbit).
  size_t read_some(char* s, size_t n);

  int m_fd;
  std::ostream* m_copy;
  std::vector<char> m_buf;
};

// A pipe: both ends close-on-exec, so a child gets the write end only by being passed it.
class Pipe {
 public:
  // Throws std::runtime_error when the system refuses one.
  Pipe();
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  int read_fd() const { return m_read; }
  int write_fd() const { return m_write; }
  // Our copy of the write end: closed once the child that writes has it, so that the reader
  // sees the end when the child's copy closes.
  void close_write();
  // Closed early, a reader that stops ends the writer's next write (SIGPIPE) rather than
  // leaving it blocked on a full pipe.
  void close_read();

 private:
  int m_read = -1, m_write = -1;
};

}  // namespace iommu_sim
