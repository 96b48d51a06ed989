// Files and streams a user names for a command's output (core/files.hpp's OutputFile and the CLI's
// standard output): --out onto a symbolic link writes the link's target and keeps the link, onto a named
// pipe or a device writes there as a stream (no temporary file, no rename over it), onto a folder is
// refused; a failed write to standard output ends the command with exit 3 and the reason (quietly for a
// closed pipe); the commands whose --out is a folder refuse a file there. Every command that waits on a
// pipe runs under `timeout`, so that no test can hang.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "core/error.hpp"
#include "core/files.hpp"
#include "experiments/run_folder.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace lstmad::test;
namespace files = lstmad::files;

namespace {

bool is_link(const std::string& path) {
  return fs::is_symlink(fs::symlink_status(path));
}

// The type bits of `path` itself (a link is not followed).
mode_t file_type(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? (st.st_mode & S_IFMT) : 0;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// What a FIFO's reader, opened before the writer, got once the writer closed it (5 s at most).
std::string drain(int fd) {
  std::string got;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

}  // namespace

// write_atomic (every file of a run folder) through a chain of relative links writes the last target,
// with its temporary file beside the target, and leaves each link a link; a link to a name not there
// creates that name.
TEST(OutputPaths, AnAtomicWriteThroughALinkWritesItsTarget) {
  TempDir tmp("out-links");
  fs::create_directories(tmp.file("data"));
  write_text(tmp.file("data/target.csv"), "old\n");
  fs::create_symlink("data/target.csv", tmp.file("inner.csv"));
  fs::create_symlink("inner.csv", tmp.file("outer.csv"));
  files::write_atomic(tmp.file("outer.csv"), "new\n");
  EXPECT_TRUE(is_link(tmp.file("outer.csv")));
  EXPECT_TRUE(is_link(tmp.file("inner.csv")));
  EXPECT_EQ(files::read(tmp.file("data/target.csv")), "new\n");
  EXPECT_EQ(files::link_target(tmp.file("outer.csv")), tmp.file("data/target.csv"));

  fs::create_symlink("data/later.csv", tmp.file("dangling.csv"));
  files::write_atomic(tmp.file("dangling.csv"), "made\n");
  EXPECT_TRUE(is_link(tmp.file("dangling.csv")));
  EXPECT_EQ(files::read(tmp.file("data/later.csv")), "made\n");
  // Nothing but the targets: no temporary file left beside a link or a target.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.file("data")), {}), 2);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), {}), 4);

  fs::create_symlink("loop_b", tmp.file("loop_a"));
  fs::create_symlink("loop_a", tmp.file("loop_b"));
  EXPECT_THROW(files::write_atomic(tmp.file("loop_a"), "x"), lstmad::IoError);
}

// The files a run writes (atomically, and its .lock) take the mode a shell's `>` gives, 0666 less the
// umask: a group-shared umask 002 lets the group's members resume the run and append to its files.
TEST(OutputPaths, WrittenFilesTakeTheirModeFromTheUmask) {
  TempDir tmp("out-umask");
  const auto mode_of = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
  };
  const mode_t old = ::umask(002);
  files::write_atomic(tmp.file("shared.csv"), "x\n");
  { lstmad::RunFolderLock lock(tmp.path()); }
  ::umask(077);
  files::write_atomic(tmp.file("private.csv"), "x\n");
  ::umask(old);
  EXPECT_EQ(mode_of(tmp.file("shared.csv")), 0664u);
  EXPECT_EQ(mode_of(tmp.file(".lock")), 0664u);
  EXPECT_EQ(mode_of(tmp.file("private.csv")), 0600u);
}

// An OutputFile onto a FIFO writes into the pipe (its reader gets every byte; the FIFO stays a FIFO), onto
// a folder is refused with ConfigError naming the option, onto a new name in missing folders makes them.
TEST(OutputPaths, AnOutputFileStreamsToAFifoAndRefusesAFolder) {
  TempDir tmp("out-fifo");
  const std::string fifo = tmp.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The reader first, not waiting for a writer: the writer's open does not wait either.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  std::string want;
  for (int i = 0; i < 1000; ++i) want += std::to_string(i) + "\n";  // under the pipe's 64 KB
  {
    files::OutputFile out(fifo, "--out");
    out.write(want.data(), want.size());
    out.commit();
  }
  EXPECT_EQ(drain(reader), want);
  ::close(reader);
  EXPECT_EQ(file_type(fifo), static_cast<mode_t>(S_IFIFO));
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), {}), 1) << "no temporary file beside it";

  for (const std::string& folder : {tmp.path(), tmp.path() + "/", tmp.file("new/")}) {
    try {
      files::OutputFile out(folder, "--out");
      ADD_FAILURE() << folder << " was taken";
    } catch (const lstmad::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), "--out " + folder + " is a folder; give a file name");
    }
  }
  EXPECT_FALSE(fs::exists(tmp.file("new"))) << "nothing made for a refused name";
  files::write_output(tmp.file("a/b/c.csv"), "--out", "x\n");
  EXPECT_EQ(files::read(tmp.file("a/b/c.csv")), "x\n");
}

// /proc/self/fd/N (where /dev/stdout leads) is written through that descriptor: a file opened for
// appending (a shell's `>>`) is appended to, the same file, not replaced.
TEST(OutputPaths, AnOutputFileWritesThroughItsOwnDescriptor) {
  if (!fs::exists("/proc/self/fd")) GTEST_SKIP() << "no /proc/self/fd on this system";
  TempDir tmp("out-fd");
  const std::string path = tmp.file("log.txt");
  write_text(path, "before\n");
  struct stat was {};
  ASSERT_EQ(::stat(path.c_str(), &was), 0);
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  files::write_output("/proc/self/fd/" + std::to_string(fd), "--out", "after\n");
  ::close(fd);
  struct stat now {};
  ASSERT_EQ(::stat(path.c_str(), &now), 0);
  EXPECT_EQ(now.st_ino, was.st_ino);
  EXPECT_EQ(files::read(path), "before\nafter\n");
}

// A character device stays one: written in place (here a null device made for the test, as root).
TEST(OutputPaths, AnOutputFileWritesADeviceInPlace) {
  TempDir tmp("out-dev");
  const std::string dev = tmp.file("null");
  if (::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0)
    GTEST_SKIP() << "cannot make a character device here (not root, or a nodev file system)";
  files::write_output(dev, "--out", "nothing\n");
  EXPECT_EQ(file_type(dev), static_cast<mode_t>(S_IFCHR));
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), {}), 1);
}

// The CLI: one small run with saved models (one synthetic series of 3000 rows, so that detect prints
// about 200 KB, more than a pipe holds), shared by the tests below.
class OutputCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(lstmad_binary())) return;
    tmp_ = new TempDir("out-cli");
    run_ = tmp_->file("run");
    std::string log;
    const int rc =
        run_command(lstmad_binary() + " -q run " + LSTMAD_SOURCE_DIR +
                        "/configs/quickstart.json --no-progress -j 2 --set run.save_models=true" +
                        " --set data.synthetic.length=3000 --set data.max_files=1 --set model.hidden=4" +
                        " --set model.window=10 --set train.epochs=1 --out " + run_,
                    &log);
    if (rc != 0) {
      std::fprintf(stderr, "the run failed (%d):\n%s\n", rc, log.c_str());
      run_.clear();
    }
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  void SetUp() override {
    if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
    ASSERT_FALSE(run_.empty()) << "the shared run failed (above)";
  }
  static std::string detect() { return lstmad_binary() + " detect " + run_; }
  static TempDir* tmp_;
  static std::string run_;
};
TempDir* OutputCli::tmp_ = nullptr;
std::string OutputCli::run_;

// detect --out onto a link writes the link's target (what detect prints to stdout) and keeps the link.
TEST_F(OutputCli, DetectOutOntoALinkWritesItsTarget) {
  TempDir tmp("out-cli-link");
  std::string want, log;
  ASSERT_EQ(run_command("{ " + detect() + " 2>/dev/null; }", &want), 0);
  write_text(tmp.file("target.csv"), "old\n");
  fs::create_symlink("target.csv", tmp.file("link.csv"));
  ASSERT_EQ(run_command("cd " + tmp.path() + " && " + detect() + " --out link.csv", &log), 0) << log;
  EXPECT_TRUE(is_link(tmp.file("link.csv")));
  EXPECT_EQ(files::read(tmp.file("target.csv")), want);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), {}), 2);
}

// detect --out onto a FIFO reaches the reader waiting on it, and the FIFO stays a FIFO.
TEST_F(OutputCli, DetectOutOntoAFifoStreamsToItsReader) {
  TempDir tmp("out-cli-fifo");
  std::string want, log;
  ASSERT_EQ(run_command("{ " + detect() + " 2>/dev/null; }", &want), 0);
  const std::string fifo = tmp.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Both sides time out: a writer that never opens the pipe leaves the reader waiting 30 s, no more.
  const int rc = run_command("timeout 30 cat " + fifo + " > " + tmp.file("got.csv") + " & timeout 30 " +
                                 detect() + " --out " + fifo + "; s=$?; wait; exit $s",
                             &log);
  EXPECT_EQ(rc, 0) << log;
  EXPECT_EQ(file_type(fifo), static_cast<mode_t>(S_IFIFO));
  EXPECT_EQ(files::read(tmp.file("got.csv")), want);
}

// detect --out onto a character device writes it in place (a null device made for the test, as root).
TEST_F(OutputCli, DetectOutOntoADeviceLeavesTheDevice) {
  TempDir tmp("out-cli-dev");
  const std::string dev = tmp.file("null");
  if (::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0)
    GTEST_SKIP() << "cannot make a character device here (not root, or a nodev file system)";
  std::string log;
  EXPECT_EQ(run_command(detect() + " --out " + dev, &log), 0) << log;
  EXPECT_EQ(file_type(dev), static_cast<mode_t>(S_IFCHR));
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), {}), 1);
}

// --out onto a folder is a usage error (exit 2) naming the option and the folder, for detect, table,
// nab optimize and report; nothing is written into the folder.
TEST_F(OutputCli, OutOntoAFolderIsRefused) {
  TempDir tmp("out-cli-folder");
  const std::string dir = tmp.path();
  const std::string nab = " --nab " + run_ + "/corpus --results " + run_ + "/nab";
  for (const std::string& cmd :
       {detect(), lstmad_binary() + " table " + run_, lstmad_binary() + " nab optimize" + nab,
        lstmad_binary() + " report " + run_}) {
    std::string log;
    EXPECT_EQ(run_command(cmd + " --out " + dir, &log), 2) << cmd << "\n" << log;
    EXPECT_NE(log.find("--out " + dir + " is a folder; give a file name"), std::string::npos) << cmd << "\n"
                                                                                              << log;
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

// The commands whose --out is a folder (run, rescore, merge; nab's --write-scores) refuse a file there,
// or a link to one, with exit 3 and the reason, and write into the folder a link leads to.
TEST_F(OutputCli, FolderOutputsRefuseAFileAndFollowALink) {
  TempDir tmp("out-cli-dirs");
  write_text(tmp.file("file"), "x\n");
  fs::create_symlink("file", tmp.file("filelink"));
  fs::create_directories(tmp.file("real"));
  fs::create_symlink("real", tmp.file("dirlink"));
  const std::string nab = " nab optimize --nab " + run_ + "/corpus --results " + run_ + "/nab";
  for (const char* name : {"file", "filelink"})
    for (const std::string& cmd :
         {lstmad_binary() + " rescore " + run_ + " --out ", lstmad_binary() + " merge " + run_ + " --out ",
          lstmad_binary() + nab + " --write-scores "}) {
      std::string log;
      EXPECT_EQ(run_command(cmd + tmp.file(name), &log), 3) << cmd << name << "\n" << log;
      EXPECT_NE(log.find(tmp.file(name) + ": exists and is not a folder"), std::string::npos) << log;
    }
  EXPECT_EQ(files::read(tmp.file("file")), "x\n");
  std::string log;
  EXPECT_EQ(run_command(lstmad_binary() + " -q rescore " + run_ + " --out " + tmp.file("dirlink"), &log), 0)
      << log;
  EXPECT_TRUE(is_link(tmp.file("dirlink")));
  EXPECT_TRUE(fs::exists(tmp.file("real/results.csv")));
}

// A closed standard error (`2>&-`) lends its number to no file: a rescore's .lock holds its pid, not the log
// lines (the .lock, opened first, took descriptor 2; a detect --out CSV opened first got detect's warnings),
// and detect --out writes its scores alone; a closed standard output still fails the command with exit 3.
TEST_F(OutputCli, AClosedStandardDescriptorIsNoFilesNumber) {
  TempDir tmp("out-cli-closed");
  std::string want, log;
  ASSERT_EQ(run_command("{ " + detect() + " 2>/dev/null; }", &want), 0);
  ASSERT_EQ(run_command("{ " + detect() + " --out " + tmp.file("scores.csv") + " 2>&-; }", &log), 0) << log;
  EXPECT_EQ(files::read(tmp.file("scores.csv")), want);
  ASSERT_EQ(run_command("{ " + lstmad_binary() + " rescore " + run_ + " --out " + tmp.file("re") + " 2>&-; }",
                        &log),
            0)
      << log;
  EXPECT_EQ(files::read(tmp.file("re/.lock")).find("[info]"), std::string::npos);
  EXPECT_EQ(run_command("{ " + detect() + " >&-; }", &log), 3) << log;
  EXPECT_NE(log.find("lstmad: standard output: write failed (Bad file descriptor)"), std::string::npos)
      << log;
}

// A failed write to standard output (a full disk) exits 3 with one line saying so: detect stops at the
// first block that fails; config-reference's whole text fails at the final flush.
TEST_F(OutputCli, AFailedStandardOutputExits3WithTheReason) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  for (const std::string& cmd :
       {detect(), lstmad_binary() + " config-reference", lstmad_binary() + " info"}) {
    std::string log;
    EXPECT_EQ(run_command("{ " + cmd + " > /dev/full; }", &log), 3) << cmd << "\n" << log;
    EXPECT_EQ(count(log, "lstmad: standard output: write failed (No space left on device)"), 1u)
        << cmd << "\n"
        << log;
  }
  std::string log;
  run_command("{ " + detect() + " > /dev/full; }", &log);
  EXPECT_EQ(log.find("alarm(s)"), std::string::npos) << "detect went on after the failed write:\n" << log;
}

// Standard output closed by its reader: killed by SIGPIPE as any command in a pipeline (141 in the
// shell); where SIGPIPE is ignored, the write's EPIPE ends the command with exit 3 and no message.
TEST_F(OutputCli, AClosedPipeEndsTheCommandQuietly) {
  TempDir tmp("out-cli-pipe");
  const std::string rc = tmp.file("rc"), err = tmp.file("err");
  ASSERT_EQ(run_command("trap '' PIPE; { " + detect() + " 2>" + err + "; echo $? > " + rc +
                        "; } | head -c 10 > /dev/null"),
            0);
  EXPECT_EQ(files::read(rc), "3\n");
  EXPECT_EQ(files::read(err), "");
  struct sigaction now {};
  if (::sigaction(SIGPIPE, nullptr, &now) == 0 && now.sa_handler == SIG_IGN)
    GTEST_SKIP() << "SIGPIPE is ignored by this test's parent: a shell cannot restore it";
  ASSERT_EQ(run_command("{ " + detect() + " 2>" + err + "; echo $? > " + rc + "; } | head -c 10 > /dev/null"),
            0);
  EXPECT_EQ(files::read(rc), "141\n");
}

// rescore takes run's --no-progress (scripts pass both commands the same flags).
TEST_F(OutputCli, RescoreTakesNoProgress) {
  TempDir tmp("out-cli-rescore");
  std::string log;
  EXPECT_EQ(
      run_command(lstmad_binary() + " -q rescore " + run_ + " --no-progress --out " + tmp.file("r"), &log), 0)
      << log;
  EXPECT_TRUE(fs::exists(tmp.file("r/results.csv")));
}
