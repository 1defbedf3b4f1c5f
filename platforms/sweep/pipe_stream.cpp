#include "iommu_sim/platform/sweep/pipe_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace iommu_sim {

namespace {

constexpr size_t kBufferSize = size_t{1} << 16;
// A larger pipe lets the writer run ahead of a reader that is busy with the last block (Linux
// allows an unprivileged process up to 1 MiB by default; a smaller pipe is only slower).
constexpr int kPipeSize = 1 << 20;

}  // namespace

DescriptorReadBuf::DescriptorReadBuf(int fd, std::ostream* copy)
    : m_fd(fd), m_copy(copy), m_buf(kBufferSize) {
  setg(m_buf.data(), m_buf.data(), m_buf.data());
}

size_t DescriptorReadBuf::read_some(char* s, size_t n) {
  for (;;) {
    const ssize_t got = ::read(m_fd, s, n);
    if (got >= 0) {
      if (m_copy && got > 0) m_copy->write(s, got);
      return static_cast<size_t>(got);
    }
    if (errno != EINTR) throw std::runtime_error(std::string("read: ") + std::strerror(errno));
  }
}

DescriptorReadBuf::int_type DescriptorReadBuf::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  const size_t got = read_some(m_buf.data(), m_buf.size());
  setg(m_buf.data(), m_buf.data(), m_buf.data() + got);
  return got == 0 ? traits_type::eof() : traits_type::to_int_type(*gptr());
}

std::streamsize DescriptorReadBuf::xsgetn(char* s, std::streamsize n) {
  // What is buffered first, then straight from the descriptor until n bytes or the end: a pipe
  // returns what the writer has written so far, a file what is asked for.
  std::streamsize done = std::min<std::streamsize>(n, egptr() - gptr());
  std::memcpy(s, gptr(), static_cast<size_t>(done));
  gbump(static_cast<int>(done));
  while (done < n) {
    const size_t got = read_some(s + done, static_cast<size_t>(n - done));
    if (got == 0) break;
    done += static_cast<std::streamsize>(got);
  }
  return done;
}

Pipe::Pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
  m_read = fds[0];
  m_write = fds[1];
#ifdef F_SETPIPE_SZ
  fcntl(m_write, F_SETPIPE_SZ, kPipeSize);
#endif
}

Pipe::~Pipe() {
  close_write();
  close_read();
}

void Pipe::close_write() {
  if (m_write >= 0) ::close(m_write);
  m_write = -1;
}

void Pipe::close_read() {
  if (m_read >= 0) ::close(m_read);
  m_read = -1;
}

}  // namespace iommu_sim
