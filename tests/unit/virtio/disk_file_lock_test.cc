// SPDX-License-Identifier: Apache-2.0
// DiskFile image locking: whole-file OFD locks, shared for read-only disks and exclusive for
// writable ones. OFD locks conflict between open file descriptions of one process, so two
// DiskFile objects here behave like two cvmm processes (or two --disk of one VM).
#include "devices/virtio/blk/disk_file.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <utility>

namespace cvm::devices::virtio::blk {
namespace {

// An 8 KiB zero-filled image in /tmp, removed at the end of the test.
class LockImage {
 public:
  LockImage() {
    char name[] = "/tmp/cvmm-blk-lock-XXXXXX";
    const int fd = ::mkstemp(name);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::ftruncate(fd, 8192), 0);
    ::close(fd);
    path_ = name;
  }
  ~LockImage() { std::filesystem::remove(path_); }
  LockImage(const LockImage&) = delete;
  LockImage& operator=(const LockImage&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The filesystem under /tmp must support OFD locks, or the conflict tests mean nothing.
void expect_locked(const Result<DiskFile>& disk) {
  ASSERT_TRUE(disk.has_value()) << disk.error().message();
  ASSERT_TRUE(disk->locked()) << "the filesystem of " << disk->path() << " cannot lock";
}

void expect_write_conflict(const Result<DiskFile>& disk, const std::string& path) {
  ASSERT_FALSE(disk.has_value());
  EXPECT_EQ(disk.error().code(), ErrorCode::kIo);
  EXPECT_EQ(disk.error().sys_errno(), EAGAIN);
  EXPECT_EQ(disk.error().message(),
            "disk image " + path +
                ": cannot take a write lock: the image is in use by another process or another "
                "disk of this VM (F_OFD_SETLK: Resource temporarily unavailable)");
}

void expect_read_conflict(const Result<DiskFile>& disk, const std::string& path) {
  ASSERT_FALSE(disk.has_value());
  EXPECT_EQ(disk.error().code(), ErrorCode::kIo);
  EXPECT_EQ(disk.error().sys_errno(), EAGAIN);
  EXPECT_EQ(disk.error().message(),
            "disk image " + path +
                ": cannot take a read lock: another process or a writable disk of this VM holds "
                "the write lock (F_OFD_SETLK: Resource temporarily unavailable)");
}

// What another process would see: F_OFD_GETLK from a fresh open file description.
short lock_seen_by_other(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  EXPECT_EQ(::fcntl(fd, F_OFD_GETLK, &probe), 0);
  ::close(fd);
  return probe.l_type;  // F_UNLCK when nothing conflicts with a write lock
}

TEST(DiskFileLockTest, SecondWritableOpenFailsNamingTheFileAndTheWriteLock) {
  LockImage image;
  auto first = DiskFile::open(image.path(), false);
  expect_locked(first);
  expect_write_conflict(DiskFile::open(image.path(), false), image.path());
  EXPECT_EQ(lock_seen_by_other(image.path()), F_WRLCK);
}

// Exit status of a child process that opens `path` writable: 0 opened, 11 refused with
// EAGAIN, 1 any other failure.
int writable_open_in_child(const std::string& path) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto disk = DiskFile::open(path, false);
    ::_exit(disk.has_value() ? 0 : (disk.error().sys_errno() == EAGAIN ? 11 : 1));
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(DiskFileLockTest, AnotherProcessCannotOpenAWritableImage) {
  LockImage image;
  {
    auto writer = DiskFile::open(image.path(), false);
    expect_locked(writer);
    EXPECT_EQ(writable_open_in_child(image.path()), 11);
  }
  EXPECT_EQ(writable_open_in_child(image.path()), 0);
}

TEST(DiskFileLockTest, ReadOnlyOpensShareTheImage) {
  LockImage image;
  auto first = DiskFile::open(image.path(), true);
  expect_locked(first);
  auto second = DiskFile::open(image.path(), true);
  expect_locked(second);
  EXPECT_EQ(lock_seen_by_other(image.path()), F_RDLCK);
}

TEST(DiskFileLockTest, WritableOpenFailsWhileAReaderHoldsTheImage) {
  LockImage image;
  auto reader = DiskFile::open(image.path(), true);
  expect_locked(reader);
  expect_write_conflict(DiskFile::open(image.path(), false), image.path());
}

TEST(DiskFileLockTest, ReadOnlyOpenFailsWhileAWriterHoldsTheImage) {
  LockImage image;
  auto writer = DiskFile::open(image.path(), false);
  expect_locked(writer);
  expect_read_conflict(DiskFile::open(image.path(), true), image.path());
}

TEST(DiskFileLockTest, DestroyingTheHolderReleasesTheLock) {
  LockImage image;
  {
    auto writer = DiskFile::open(image.path(), false);
    expect_locked(writer);
  }
  EXPECT_EQ(lock_seen_by_other(image.path()), F_UNLCK);
  auto again = DiskFile::open(image.path(), false);
  expect_locked(again);
}

// A failed open leaves no lock behind: the first holder going away frees the image fully.
TEST(DiskFileLockTest, FailedOpenHoldsNothing) {
  LockImage image;
  {
    auto reader = DiskFile::open(image.path(), true);
    expect_locked(reader);
    expect_write_conflict(DiskFile::open(image.path(), false), image.path());
  }
  EXPECT_EQ(lock_seen_by_other(image.path()), F_UNLCK);
}

TEST(DiskFileLockTest, MoveConstructionKeepsTheLockUntilTheNewOwnerDies) {
  LockImage image;
  auto opened = DiskFile::open(image.path(), false);
  expect_locked(opened);
  {
    DiskFile moved(std::move(*opened));
    EXPECT_TRUE(moved.locked());
    opened = Error(ErrorCode::kInternal, "moved-from object destroyed");  // must not unlock
    expect_write_conflict(DiskFile::open(image.path(), false), image.path());
    EXPECT_EQ(lock_seen_by_other(image.path()), F_WRLCK);
  }
  EXPECT_EQ(lock_seen_by_other(image.path()), F_UNLCK);
  auto again = DiskFile::open(image.path(), false);
  expect_locked(again);
}

// Move assignment releases the target's old image and carries the source's lock over.
TEST(DiskFileLockTest, MoveAssignmentReleasesTheOldImageAndKeepsTheNewLock) {
  LockImage old_image;
  LockImage new_image;
  auto target = DiskFile::open(old_image.path(), false);
  expect_locked(target);
  auto source = DiskFile::open(new_image.path(), true);
  expect_locked(source);
  *target = std::move(*source);
  EXPECT_EQ(target->path(), new_image.path());
  EXPECT_TRUE(target->readonly());
  EXPECT_EQ(lock_seen_by_other(old_image.path()), F_UNLCK);
  EXPECT_EQ(lock_seen_by_other(new_image.path()), F_RDLCK);
  expect_write_conflict(DiskFile::open(new_image.path(), false), new_image.path());
  target = Error(ErrorCode::kInternal, "released");
  EXPECT_EQ(lock_seen_by_other(new_image.path()), F_UNLCK);
}

TEST(DiskFileLockTest, LockErrnoClassification) {
  EXPECT_EQ(classify_lock_errno(EAGAIN), LockFailure::kConflict);
  EXPECT_EQ(classify_lock_errno(EACCES), LockFailure::kConflict);
  EXPECT_EQ(classify_lock_errno(EOPNOTSUPP), LockFailure::kUnsupported);
  EXPECT_EQ(classify_lock_errno(ENOLCK), LockFailure::kUnsupported);
  EXPECT_EQ(classify_lock_errno(EINVAL), LockFailure::kUnsupported);
  EXPECT_EQ(classify_lock_errno(EBADF), LockFailure::kError);
  EXPECT_EQ(classify_lock_errno(EIO), LockFailure::kError);
}

}  // namespace
}  // namespace cvm::devices::virtio::blk
