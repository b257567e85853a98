// The newc cpio writer.
#include "vm/initramfs.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>

#include <cerrno>

namespace inflight {

namespace {

std::string ReadWhole(int fd, Status& status, const std::string& what) {
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Errno(fmt::format("read({})", what));
      return {};
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

}  // namespace

Status CpioWriter::Write(std::string_view data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(out_.Get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("write(initramfs)");
    p += n;
    left -= static_cast<size_t>(n);
  }
  bytes_ += data.size();
  return {};
}

Status CpioWriter::Entry(const std::string& path, uint32_t mode, std::string_view data,
                         uint32_t rmajor, uint32_t rminor) {
  // Names in the archive are relative to the root: "bin/inflight".
  std::string name = path;
  while (!name.empty() && name[0] == '/') name.erase(0, 1);
  if (name.empty()) name = ".";
  std::string header = fmt::format(
      "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
      next_ino_++, mode, 0u /*uid*/, 0u /*gid*/, 1u /*nlink*/, 0u /*mtime*/, data.size(), 0u, 0u,
      rmajor, rminor, name.size() + 1, 0u /*check*/);
  header += name;
  header += '\0';
  header.append((4 - header.size() % 4) % 4, '\0');
  if (auto s = Write(header); !s) return s;
  if (auto s = Write(data); !s) return s;
  return Write(std::string((4 - data.size() % 4) % 4, '\0'));
}

Status CpioWriter::AddParents(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (dirs_.insert(dir).second)
      if (auto s = Entry(dir, S_IFDIR | 0755, {}); !s) return s;
  }
  return {};
}

Status CpioWriter::AddDir(const std::string& path, mode_t mode) {
  if (auto s = AddParents(path); !s) return s;
  if (!dirs_.insert(path).second) return {};
  return Entry(path, S_IFDIR | (mode & 07777), {});
}

Status CpioWriter::AddFile(const std::string& path, std::string_view data, mode_t mode) {
  if (auto s = AddParents(path); !s) return s;
  return Entry(path, S_IFREG | (mode & 07777), data);
}

Status CpioWriter::AddHostFile(const std::string& path, const std::string& host_path, mode_t mode) {
  UniqueFd in(::open(host_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return Errno(fmt::format("open({})", host_path));
  Status st;
  std::string data = ReadWhole(in.Get(), st, host_path);
  if (!st) return st;
  return AddFile(path, data, mode);
}

Status CpioWriter::AddCharDevice(const std::string& path, uint32_t major, uint32_t minor,
                                 mode_t mode) {
  if (auto s = AddParents(path); !s) return s;
  return Entry(path, S_IFCHR | (mode & 07777), {}, major, minor);
}

Status CpioWriter::Finish() {
  if (auto s = Entry("TRAILER!!!", 0, {}); !s) return s;
  // The kernel reads the archive in 512-byte blocks; pad like cpio(1) does.
  const uint64_t pad = (512 - bytes_ % 512) % 512;
  if (auto s = Write(std::string(pad, '\0')); !s) return s;
  out_.Reset();
  return {};
}

}  // namespace inflight
