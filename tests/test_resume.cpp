// Crash safety: a run killed with SIGKILL at several points and resumed each time ends with the same
// results as an uninterrupted run (every column but timings); SIGINT stops cleanly and leaves a
// resumable run; shards merged equal the unsharded run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/files.hpp"
#include "experiments/run_folder.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace lstmad::test;
using json = nlohmann::json;

namespace {

const char* kConfig = R"({
  "data": {"format": "synthetic", "synthetic": {"seed": 4, "series_per_kind": 2, "length": 700}},
  "model": {"layers": 1, "hidden": [6, 10], "window": 12},
  "train": {"epochs": 4, "batch": 16},
  "detector": {"likelihood": {"long_window": 200, "short_window": 4}},
  "run": {"name": "resume", "seed": 9, "batch_models": 2}
})";

size_t finished_cells(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir + "/cells", ec))
    if (f.path().extension() == ".json") ++n;
  return n;
}

// Starts `lstmad run ...` as a child process; returns its pid.
pid_t spawn(const std::vector<std::string>& args) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // As from a terminal: a test runner started in the background may pass SIGINT down ignored.
    ::signal(SIGINT, SIG_DFL);
    int devnull = ::open("/dev/null", 1);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits until the run has at least `cells` finished cells (or the child ended); returns false on timeout.
bool wait_for_cells(const std::string& dir, size_t cells, pid_t pid) {
  for (int i = 0; i < 6000; ++i) {
    if (finished_cells(dir) >= cells) return true;
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// A finished run of the config file `cfg` for one epoch (and the --set options `extra`) in `out`; its log
// when it does not finish.
::testing::AssertionResult one_epoch_run(const std::string& cfg, const std::string& out,
                                         const std::string& extra = "") {
  std::string log;
  if (run_command(lstmad_binary() + " -q run " + cfg + " --set train.epochs=1 " + extra + " --out " + out,
                  &log) == 0)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << log;
}

}  // namespace

class Resume : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(lstmad_binary())) GTEST_SKIP() << "lstmad binary not built at " << lstmad_binary();
  }
};

TEST_F(Resume, KilledAndResumedRunsEqualAnUninterruptedRun) {
  TempDir tmp("resume");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("ref") + " -j 1", &out), 0) << out;
  const auto reference = results_without_timings(tmp.file("ref"));
  const size_t total = reference.size() - 1;
  ASSERT_GE(total, 10u);

  pid_t pid = spawn({lstmad_binary(), "-q", "run", tmp.file("cfg.json"), "--out", tmp.file("run"), "-j", "1"});
  int kills = 0;
  for (size_t at : {size_t(2), total / 2, total - 3}) {
    if (wait_for_cells(tmp.file("run"), at, pid)) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      ++kills;
    }
    EXPECT_LT(finished_cells(tmp.file("run")), total + 1);
    pid = spawn({lstmad_binary(), "-q", "run", "--resume", tmp.file("run"), "-j", "1"});
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the last resume completes the run";
  EXPECT_GE(kills, 2) << "the run was killed at least twice mid-way";
  EXPECT_EQ(results_without_timings(tmp.file("run")), reference);
  EXPECT_EQ(lstmad::files::read(tmp.file("run/nab_scores.json")), lstmad::files::read(tmp.file("ref/nab_scores.json")));
  // Nothing is left half-written.
  for (const auto& f : fs::recursive_directory_iterator(tmp.file("run")))
    EXPECT_EQ(f.path().filename().string().find(".tmp."), std::string::npos) << f.path();
}

TEST_F(Resume, SigintStopsCleanlyAndLeavesAResumableRun) {
  TempDir tmp("sigint");
  write_text(tmp.file("cfg.json"), kConfig);
  pid_t pid = spawn({lstmad_binary(), "-q", "run", tmp.file("cfg.json"), "--out", tmp.file("run"), "-j", "1"});
  ASSERT_TRUE(wait_for_cells(tmp.file("run"), 2, pid));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "SIGINT is handled, not fatal";
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_TRUE(fs::exists(tmp.file("run/results.csv"))) << "the tables of the finished cells are written";
  // The run's time (summary.json, the runtime `lstmad table` shows) is both legs', not the resume's alone.
  auto wall = [&] {
    return nlohmann::json::parse(lstmad::files::read(tmp.file("run/summary.json")))["wall_seconds"]
        .get<double>();
  };
  const double first = wall();
  ASSERT_GT(first, 0.0);
  std::string out;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("run") + " -j 1", &out), 0) << out;
  const double second = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(fs::exists(tmp.file("run/nab_scores.json")));
  EXPECT_GT(wall(), first);
  EXPECT_LE(wall(), first + second);
}

TEST_F(Resume, ShardsMergeIntoTheUnshardedRun) {
  TempDir tmp("shards");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --out " + tmp.file("ref"), &out), 0) << out;
  std::string dirs;
  for (int i = 0; i < 3; ++i) {
    std::string d = tmp.file("shard" + std::to_string(i));
    ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --shard " +
                              std::to_string(i) + "/3 --out " + d + " 2>&1",
                          &out),
              0)
        << out;
    dirs += " " + d;
    // A shard says once that its detectors have no NAB score until the shards merge; its own report
    // names the missing cells in the page without saying so again on stderr.
    EXPECT_NE(out.find("shard " + std::to_string(i) + "/3; merge the shards for NAB scores"),
              std::string::npos)
        << out;
    EXPECT_EQ(out.find("[warn] report:"), std::string::npos) << out;
    EXPECT_NE(
        lstmad::files::read(d + "/report.html").find("cells have no result (an unfinished run, or one shard"),
        std::string::npos);
  }
  // What a shard killed in the middle of a write leaves: a temporary file never renamed into a result.
  write_text(tmp.file("shard1/cells/0123456789abcdef.json.tmp.999999999.0"), "{\"id\": ");
  ASSERT_EQ(run_command(lstmad_binary() + " -q merge" + dirs + " --out " + tmp.file("merged"), &out), 0) << out;
  EXPECT_EQ(out.find("mix the two builds"), std::string::npos) << out;
  for (const auto& f : fs::recursive_directory_iterator(tmp.file("merged")))
    EXPECT_EQ(f.path().filename().string().find(".tmp."), std::string::npos) << f.path() << " was merged";
  EXPECT_EQ(results_without_timings(tmp.file("merged")), results_without_timings(tmp.file("ref")));
  EXPECT_EQ(lstmad::files::read(tmp.file("merged/nab_scores.json")), lstmad::files::read(tmp.file("ref/nab_scores.json")));
  // A merge missing shards exits 1 and says how many cells have no result: those of the other shards.
  const size_t missing = read_results_csv(tmp.file("ref/results.csv")).size() -
                         read_results_csv(tmp.file("shard0/results.csv")).size();
  ASSERT_GT(missing, 0u);
  EXPECT_EQ(run_command(lstmad_binary() + " -q merge " + tmp.file("shard0") + " --out " + tmp.file("partial"),
                        &out),
            1)
      << out;
  EXPECT_NE(out.find("lstmad: " + std::to_string(missing) + " cells have no result in these shards"),
            std::string::npos)
      << out;
  // A shard run by another build is merged, and said.
  json m = json::parse(lstmad::files::read(tmp.file("shard2/manifest.json")));
  m["git_hash"] = "0123456789ab";
  write_text(tmp.file("shard2/manifest.json"), m.dump(2));
  std::string version;
  ASSERT_EQ(run_command(lstmad_binary() + " --version", &version), 0);
  ASSERT_EQ(run_command(lstmad_binary() + " -q merge" + dirs + " --out " + tmp.file("merged2"), &out), 0)
      << out;
  EXPECT_EQ(results_without_timings(tmp.file("merged2")), results_without_timings(tmp.file("ref")));
  if (version.find("unknown") == std::string::npos)
    EXPECT_NE(out.find("shard2/manifest.json: computed by lstmad " LSTMAD_VERSION " (0123456789ab)"),
              std::string::npos)
        << out;
  else
    EXPECT_EQ(out.find("mix the two builds"), std::string::npos) << out;
}

// A merge killed part way leaves its marker (.merging) beside what it wrote: `run --resume` refuses that
// folder, and the same merge command finishes it, equal to the merge that was never killed.
TEST_F(Resume, AKilledMergeIsFinishedByTheSameCommand) {
  TempDir tmp("killed-merge");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out, dirs;
  for (int i = 0; i < 2; ++i) {
    const std::string d = tmp.file("shard" + std::to_string(i));
    ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") +
                              " --set train.epochs=1 --shard " + std::to_string(i) + "/2 --out " + d,
                          &out),
              0)
        << out;
    dirs += " " + d;
  }
  ASSERT_EQ(run_command(lstmad_binary() + " -q merge" + dirs + " --out " + tmp.file("whole"), &out), 0)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("whole/.merging"))) << "a finished merge keeps no marker";
  // What a kill during the copying leaves: the marker, the config, part of the cells, no manifest.
  fs::copy(tmp.file("whole"), tmp.file("killed"), fs::copy_options::recursive);
  write_text(tmp.file("killed/.merging"), "");
  fs::remove(tmp.file("killed/manifest.json"));
  fs::remove(tmp.file("killed/results.csv"));
  fs::remove(fs::directory_iterator(tmp.file("killed/cells"))->path());
  write_text(tmp.file("killed/summary.json.tmp.999999999.3"), "the write it was killed in");
  EXPECT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("killed") + " 2>&1", &out), 3)
      << out;
  EXPECT_NE(out.find("an unfinished merge"), std::string::npos) << out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q merge" + dirs + " --out " + tmp.file("killed"), &out), 0)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("killed/.merging")));
  EXPECT_FALSE(fs::exists(tmp.file("killed/summary.json.tmp.999999999.3")))
      << "the killed merge's unfinished write";
  EXPECT_EQ(results_without_timings(tmp.file("killed")), results_without_timings(tmp.file("whole")));
  EXPECT_EQ(finished_cells(tmp.file("killed")), finished_cells(tmp.file("whole")));
}

TEST_F(Resume, ARequeuedSlurmTaskResumesItsShard) {
  // scripts/slurm/lstmad-array.sbatch run as Slurm runs a task, twice: a requeued task (preempted after
  // some cells) finds its shard's folder and resumes it, instead of failing on "already holds a run".
  TempDir tmp("requeue");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  const std::string task = "cd " + tmp.path() + " && SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 LSTMAD=" +
                           lstmad_binary() + " bash " + LSTMAD_SOURCE_DIR +
                           "/scripts/slurm/lstmad-array.sbatch cfg.json runs --set train.epochs=3";
  ASSERT_EQ(run_command(task, &out), 0) << out;
  const std::string shard = tmp.file("runs/shard-1");
  const auto whole = results_without_timings(shard);
  const size_t cells = finished_cells(shard);
  ASSERT_GT(cells, 1u);
  // The preempted attempt: one cell never finished.
  const auto first = *fs::directory_iterator(shard + "/cells");
  fs::remove(first.path());
  ASSERT_EQ(finished_cells(shard), cells - 1);
  ASSERT_EQ(run_command(task, &out), 0) << out;
  EXPECT_NE(out.find("resuming it"), std::string::npos) << out;
  EXPECT_EQ(finished_cells(shard), cells);
  EXPECT_EQ(results_without_timings(shard), whole) << "the resumed shard equals the first attempt's";
  EXPECT_FALSE(fs::exists(tmp.file("runs/shard-1-2"))) << "no second folder for the same shard";
  // An attempt killed between a run's first file (config.json) and its manifest: the folder holds the
  // config alone, which a fresh run refuses; the requeued task resumes it too.
  for (const auto& f : fs::directory_iterator(shard))
    if (f.path().filename() != "config.json") fs::remove_all(f.path());
  ASSERT_EQ(run_command(task, &out), 0) << out;
  EXPECT_NE(out.find("resuming it"), std::string::npos) << out;
  EXPECT_EQ(finished_cells(shard), cells) << "shard 1 of 2 again, from the task's Slurm variables";
  EXPECT_EQ(results_without_timings(shard), whole);
  // The resume wrote the manifest the killed attempt did not, with the shard: a later resume by hand
  // (no Slurm variables) runs the same shard, not the whole plan.
  const auto manifest = nlohmann::json::parse(lstmad::files::read(shard + "/manifest.json"));
  EXPECT_EQ(manifest["shard"], (nlohmann::json{{"index", 1}, {"count", 2}})) << manifest.dump();
  EXPECT_TRUE(manifest.contains("input_sha256"));
  fs::remove(fs::directory_iterator(shard + "/cells")->path());
  ASSERT_EQ(run_command(lstmad_binary() + " -q run --resume " + shard, &out), 0) << out;
  EXPECT_EQ(finished_cells(shard), cells);
  // An array with a step (--array=1-3:2, tasks 1 and 3): the task with ID 3 is shard 1 of 2.
  const std::string stepped = "cd " + tmp.path() + " && SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=2 " +
                              "SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_STEP=2 LSTMAD=" + lstmad_binary() +
                              " bash " + LSTMAD_SOURCE_DIR +
                              "/scripts/slurm/lstmad-array.sbatch cfg.json stepped --set train.epochs=3";
  ASSERT_EQ(run_command(stepped, &out), 0) << out;
  EXPECT_EQ(results_without_timings(tmp.file("stepped/shard-3")), whole);
}

TEST_F(Resume, TheMergedRunTakesTheShardsTime) {
  // summary.json's wall_seconds (the runtime `lstmad table` shows) of a merged run is what its cells took:
  // the shards' recorded times plus the merge's own, not the merge's alone. The shards here take a
  // fraction of a second, so they record long runs (as a real experiment's shards would) to tell the two
  // apart.
  TempDir tmp("shards-time");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out, dirs;
  auto summary = [&](const std::string& dir) {
    return nlohmann::json::parse(lstmad::files::read(dir + "/summary.json"));
  };
  double shards = 0;
  for (int i = 0; i < 2; ++i) {
    const std::string d = tmp.file("shard" + std::to_string(i));
    ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --shard " +
                              std::to_string(i) + "/2 --out " + d,
                          &out),
              0)
        << out;
    nlohmann::json s = summary(d);
    s["wall_seconds"] = 3600.0 * (i + 1) + s["wall_seconds"].get<double>();
    write_text(d + "/summary.json", s.dump(2));
    shards += s["wall_seconds"].get<double>();
    dirs += " " + d;
  }
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_command(lstmad_binary() + " -q merge" + dirs + " --out " + tmp.file("merged"), &out), 0)
      << out;
  const double merge_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double merged = summary(tmp.file("merged"))["wall_seconds"].get<double>();
  EXPECT_GE(merged, shards);
  EXPECT_LE(merged, shards + merge_seconds);
}

TEST_F(Resume, MergeRefusesACellThatTwoFoldersHold) {
  // Shard 0 run twice (say, a first attempt whose cells failed and a second one): the merge cannot tell
  // which attempt is the result, and taking the last given one would depend on the argument order.
  TempDir tmp("shards-twice");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json");
  ASSERT_EQ(run_command(run + " --shard 0/2 --out " + tmp.file("s0"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --shard 0/2 --out " + tmp.file("s0-again"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --shard 1/2 --out " + tmp.file("s1"), &out), 0) << out;
  EXPECT_EQ(run_command(lstmad_binary() + " -q merge " + tmp.file("s0") + " " + tmp.file("s1") + " " +
                            tmp.file("s0-again") + " --out " + tmp.file("m") + " 2>&1",
                        &out),
            2)
      << out;
  EXPECT_NE(out.find(tmp.file("s0-again") + "/cells/"), std::string::npos) << out;
  EXPECT_NE(out.find("the same cell is in " + tmp.file("s0")), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp.file("m")));
  // A damaged cell file in a shard is refused naming the shard's file (not a copy of it in the merge).
  const std::string cell = fs::directory_iterator(tmp.file("s1/cells"))->path().string();
  const std::string intact = lstmad::files::read(cell);
  write_text(cell, intact.substr(0, intact.size() / 2));
  EXPECT_EQ(run_command(lstmad_binary() + " -q merge " + tmp.file("s0-again") + " " + tmp.file("s1") +
                            " --out " + tmp.file("m"),
                        &out),
            3)
      << out;
  EXPECT_NE(out.find(cell + ": an unreadable cell result"), std::string::npos) << out;
  EXPECT_NE(out.find("lstmad run --resume " + tmp.file("s1")), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp.file("m")));
  write_text(cell, intact);
  ASSERT_EQ(run_command(lstmad_binary() + " -q merge " + tmp.file("s0-again") + " " + tmp.file("s1") +
                            " --out " + tmp.file("m"),
                        &out),
            0)
      << out;
}

TEST_F(Resume, SigintEndsACommandOtherThanRunAtOnce) {
  // `plan` on a synthetic corpus that takes seconds to generate: SIGINT must end it by the default action,
  // not be absorbed by the run's stop handler, which nothing outside `run` reads. The config is a named
  // pipe, so that the signal comes once plan is at work: it opens the pipe to read its config after
  // start-up, and the signal follows the config at once, before the corpus it describes is generated.
  TempDir tmp("plan-sigint");
  const std::string fifo = tmp.file("cfg.json");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const std::string cfg =
      R"({"data": {"format": "synthetic", "synthetic": {"series_per_kind": 10, "length": 50000}}})";
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = spawn({lstmad_binary(), "-q", "plan", fifo});
  // Opened without blocking, a pipe without a reader refuses a writer (ENXIO).
  int fd = -1;
  for (int i = 0; i < 6000 && fd < 0; ++i) {
    fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) break;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      FAIL() << "plan ended (status " << status << ") before reading its config";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (fd < 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    FAIL() << "plan did not open its config in 60 s";
  }
  // A reader gone makes the write fail instead of ending the test.
  const auto old_pipe = ::signal(SIGPIPE, SIG_IGN);
  const ssize_t written = ::write(fd, cfg.data(), cfg.size());
  ::close(fd);
  ::signal(SIGPIPE, old_pipe);
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(written, static_cast<ssize_t>(cfg.size()));
  ASSERT_TRUE(WIFSIGNALED(status)) << "plan ran to its end after SIGINT (" << seconds << " s, status "
                                   << status << ")";
  EXPECT_EQ(WTERMSIG(status), SIGINT);
}

// A folder holding another run's cells but not its config.json (a copy, a half-deleted run): a new run
// there would take those cells as its own finished ones, whatever data made them. It is refused.
TEST_F(Resume, ANewRunRefusesAFolderWithCellsButNoConfig) {
  TempDir tmp("stale-cells");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set train.epochs=1";
  ASSERT_EQ(run_command(run + " --out " + tmp.file("a"), &out), 0) << out;
  fs::create_directories(tmp.file("b"));
  fs::copy(tmp.file("a/cells"), tmp.file("b/cells"));
  const std::size_t cells = finished_cells(tmp.file("b"));
  ASSERT_GT(cells, 0u);
  EXPECT_EQ(run_command(run + " --set data.synthetic.seed=5 --out " + tmp.file("b") + " 2>&1", &out), 3)
      << out;
  EXPECT_NE(out.find("holds cells/ of another run but no config.json"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp.file("b/config.json")));
  EXPECT_EQ(finished_cells(tmp.file("b")), cells) << "the cells found there are left as they were";
}

// Two processes never write one run folder at once. While one holds it (here the test itself), a new run,
// a resume, a rescore and a merge into it are refused, naming the holder, and leave it as it was (a
// resume would have removed the holder's unfinished writes); once it is released they go ahead.
TEST_F(Resume, AFolderAnotherProcessIsWritingIsRefused) {
  TempDir tmp("claimed");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set train.epochs=1";
  ASSERT_EQ(run_command(run + " --out " + tmp.file("a"), &out), 0) << out;
  const std::string in_flight = tmp.file("a/cells/x.json.tmp.999999999.0");  // write_atomic's NAME.tmp.PID.N
  write_text(in_flight, "{");
  fs::create_directories(tmp.file("busy"));
  const std::vector<std::string> commands{
      run + " --out " + tmp.file("busy"),
      lstmad_binary() + " -q run --resume " + tmp.file("a"),
      lstmad_binary() + " -q rescore " + tmp.file("a") + " --set detector.smoothing=2 --out " +
          tmp.file("busy"),
      lstmad_binary() + " -q merge " + tmp.file("a") + " --out " + tmp.file("busy"),
  };
  {
    const lstmad::RunFolderLock held_a(tmp.file("a")), held_busy(tmp.file("busy"));
    for (const auto& c : commands) {
      EXPECT_EQ(run_command(c, &out), 3) << c << "\n" << out;
      EXPECT_NE(out.find("another lstmad process is writing this run folder (pid " +
                         std::to_string(::getpid()) + ")"),
                std::string::npos)
          << c << "\n"
          << out;
    }
    EXPECT_FALSE(fs::exists(tmp.file("busy/config.json")));
    EXPECT_TRUE(fs::exists(in_flight)) << "a refused resume removed another process's unfinished write";
  }
  EXPECT_EQ(run_command(commands[0], &out), 0) << out;
  EXPECT_EQ(run_command(commands[1], &out), 0) << out;
  EXPECT_FALSE(fs::exists(in_flight)) << "a resume removes a killed run's unfinished writes";
}

// A run's relative paths are made absolute in its config.json: resumed from another working folder, it
// reads the same corpus (before, it looked for data.root under the new working folder).
TEST_F(Resume, RelativePathsNameTheSameFilesFromAnyWorkingFolder) {
  TempDir tmp("relative-root");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set train.epochs=1";
  ASSERT_EQ(run_command(run + " --out " + tmp.file("a"), &out), 0)
      << out;  // its corpus: a/corpus, NAB's layout
  ASSERT_EQ(run_command("cd " + tmp.file("a") + " && " + run +
                            " --set data.format=nab --set data.root=corpus --set 'model.hidden=6' --out " +
                            tmp.file("b"),
                        &out),
            0)
      << out;
  const json cfg = json::parse(lstmad::files::read(tmp.file("b/config.json")));
  EXPECT_EQ(cfg["data"]["root"], fs::absolute(tmp.file("a/corpus")).lexically_normal().string());
  fs::remove(tmp.file("b/summary.json"));
  ASSERT_EQ(run_command("cd / && " + lstmad_binary() + " run --resume " + tmp.file("b"), &out), 0) << out;
  EXPECT_EQ(out.find("inputs changed"), std::string::npos) << out;
  EXPECT_NE(out.find("already finished"), std::string::npos) << out;
}

// A NAB corpus found without data.root (here through NAB_ROOT) is the one the run reads again: resumed
// under another NAB_ROOT (or from a working folder whose ../shared/nab is another corpus), the run found
// the other corpus, took its files for changed inputs and ran its finished cells again on it.
TEST_F(Resume, ACorpusFoundByDefaultIsTheOneTheRunRecorded) {
  TempDir tmp("default-root");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set train.epochs=1";
  ASSERT_EQ(run_command(run + " --out " + tmp.file("a"), &out), 0) << out;  // its corpus: a/corpus
  ASSERT_EQ(run_command("NAB_ROOT=" + tmp.file("a/corpus") + " " + run +
                            " --set data.format=nab --set model.hidden=6 --out " + tmp.file("b"),
                        &out),
            0)
      << out;
  fs::create_directories(tmp.file("decoy/data"));
  fs::create_directories(tmp.file("decoy/labels"));
  fs::remove(tmp.file("b/summary.json"));
  ASSERT_EQ(
      run_command("NAB_ROOT=" + tmp.file("decoy") + " " + lstmad_binary() + " run --resume " + tmp.file("b"),
                  &out),
      0)
      << out;
  EXPECT_EQ(out.find("inputs changed"), std::string::npos) << out;
  EXPECT_NE(out.find("already finished"), std::string::npos) << out;
  EXPECT_NE(
      out.find("NAB_ROOT=" + tmp.file("decoy") + " is not the corpus this run read; it reads its own, " +
               fs::absolute(tmp.file("a/corpus")).lexically_normal().string()),
      std::string::npos)
      << out;
  // Shards that found their corpus so merge on it, whatever NAB_ROOT says where they are merged.
  for (int k = 0; k < 2; ++k)
    ASSERT_EQ(run_command("NAB_ROOT=" + tmp.file("a/corpus") + " " + run +
                              " --set data.format=nab --set model.hidden=6 --shard " + std::to_string(k) +
                              "/2 --out " + tmp.file("s" + std::to_string(k)),
                          &out),
              0)
        << out;
  ASSERT_EQ(run_command("NAB_ROOT=" + tmp.file("decoy") + " " + lstmad_binary() + " -q merge " +
                            tmp.file("s0") + " " + tmp.file("s1") + " --out " + tmp.file("m"),
                        &out),
            0)
      << out;
  const json merged = json::parse(lstmad::files::read(tmp.file("m/manifest.json")));
  EXPECT_EQ(merged["corpus"]["root"], fs::absolute(tmp.file("a/corpus")).lexically_normal().string());
}

// A rescore's relative eval.profiles is made absolute in its config.json, as a run's is: read from another
// working folder, it names the same file (before, the rescore kept "profiles.json" as given).
TEST_F(Resume, ARescoresRelativeProfilesAreMadeAbsolute) {
  TempDir tmp("relative-profiles");
  write_text(tmp.file("cfg.json"), kConfig);
  write_text(tmp.file("profiles.json"),
             R"({"mine": {"CostMatrix": {"tpWeight": 1, "fnWeight": 2, "fpWeight": 0.3, "tnWeight": 1}}})");
  std::string out;
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set train.epochs=1 --out " +
                            tmp.file("a"),
                        &out),
            0)
      << out;
  ASSERT_EQ(run_command("cd " + tmp.path() + " && " + lstmad_binary() +
                            " -q rescore a --set eval.profiles=profiles.json --out rs",
                        &out),
            0)
      << out;
  const json cfg = json::parse(lstmad::files::read(tmp.file("rs/config.json")));
  EXPECT_EQ(cfg["eval"]["profiles"], fs::absolute(tmp.file("profiles.json")).lexically_normal().string());
}

// An OK cell whose NAB-format file is gone runs again on resume, and the run's scores come back as they
// were (before, every resume ended without a NAB score for that detector).
TEST_F(Resume, ACellWhoseScoresFileIsGoneRunsAgain) {
  TempDir tmp("nab-file-gone");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  ASSERT_TRUE(one_epoch_run(tmp.file("cfg.json"), tmp.file("a")));
  const std::string scores = lstmad::files::read(tmp.file("a/nab_scores.json"));
  std::string gone;
  for (const auto& f : fs::recursive_directory_iterator(tmp.file("a/nab")))
    if (gone.empty() && f.path().extension() == ".csv" &&
        f.path().filename().string().find("_scores") == std::string::npos)
      gone = f.path().string();
  ASSERT_FALSE(gone.empty());
  const std::string before = lstmad::files::read(gone);
  fs::remove(gone);
  ASSERT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("a"), &out), 0) << out;
  EXPECT_NE(out.find(gone + ": missing; cell "), std::string::npos) << out;
  EXPECT_EQ(lstmad::files::read(gone), before);
  EXPECT_EQ(lstmad::files::read(tmp.file("a/nab_scores.json")), scores);
}

TEST_F(Resume, FlagsThatResumeWouldIgnoreAreRefused) {
  TempDir tmp("flags");
  write_text(tmp.file("cfg.json"), kConfig);
  fs::create_directories(tmp.file("run"));
  std::string out;
  EXPECT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("run") + " --out " + tmp.file("x") + " 2>&1", &out), 2);
  EXPECT_NE(out.find("drop --out and --shard"), std::string::npos) << out;
  EXPECT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("run") + " --shard 0/2 2>&1", &out), 2);
  EXPECT_NE(out.find("drop --out and --shard"), std::string::npos) << out;
  EXPECT_EQ(run_command(lstmad_binary() + " run " + tmp.file("cfg.json") + " --retry-failed --out " + tmp.file("y") + " 2>&1", &out), 2);
  EXPECT_NE(out.find("use it with --resume"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp.file("y")));
}

// An attempt that ran out of memory is resumed with a smaller run.series_memory_mb: the resume takes that
// key (recorded in its leg of the manifest, not in config.json) and gives the results of an uninterrupted
// run; any other --set is refused before the folder is touched.
TEST_F(Resume, AResumeMayHoldItsSeriesInLessMemoryAndChangeNothingElse) {
  TempDir tmp("memory");
  write_text(tmp.file("cfg.json"), kConfig);
  // 20,000 rows a series: each over 1 MB prepared, so that run.series_memory_mb=1 keeps none.
  const std::string grid =
      "--set data.synthetic.length=20000 --set data.synthetic.series_per_kind=1 --set model.hidden=6";
  ASSERT_TRUE(one_epoch_run(tmp.file("cfg.json"), tmp.file("whole"), grid));
  ASSERT_TRUE(one_epoch_run(tmp.file("cfg.json"), tmp.file("resumed"), grid));
  const std::string config = lstmad::files::read(tmp.file("resumed/config.json"));
  size_t removed = 0, k = 0;
  for (const auto& f : fs::directory_iterator(tmp.file("resumed/cells")))
    if (k++ % 2 == 0 && fs::remove(f.path())) ++removed;
  ASSERT_GE(removed, 2u);
  const std::string manifest = lstmad::files::read(tmp.file("resumed/manifest.json"));

  std::string out;
  EXPECT_EQ(
      run_command(lstmad_binary() + " run --resume " + tmp.file("resumed") + " --set model.hidden=8 2>&1",
                  &out),
      2);
  EXPECT_NE(out.find("--set model.hidden=8: a resume keeps the run's config"), std::string::npos) << out;
  EXPECT_NE(out.find("only run.series_memory_mb may be set"), std::string::npos) << out;
  EXPECT_EQ(lstmad::files::read(tmp.file("resumed/manifest.json")), manifest);
  EXPECT_EQ(finished_cells(tmp.file("resumed")), k - removed);
  // A value out of range names the --set that gave it, after the run's config.json.
  EXPECT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("resumed") +
                            " --set run.series_memory_mb=-5 2>&1",
                        &out),
            2);
  EXPECT_NE(out.find("config.json --set run.series_memory_mb=-5: "), std::string::npos) << out;
  EXPECT_EQ(lstmad::files::read(tmp.file("resumed/manifest.json")), manifest);

  ASSERT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("resumed") +
                            " --set run.series_memory_mb=1 -j 2 2>&1",
                        &out),
            0)
      << out;
  // The series of the finished cells take no room: only those with a cell to run are counted.
  EXPECT_NE(out.find("; 0 of the " + std::to_string(removed) + " with cells to run kept in memory"),
            std::string::npos)
      << out;
  EXPECT_EQ(results_without_timings(tmp.file("whole")), results_without_timings(tmp.file("resumed")));
  EXPECT_EQ(lstmad::files::read(tmp.file("whole/nab_scores.json")),
            lstmad::files::read(tmp.file("resumed/nab_scores.json")));
  EXPECT_EQ(lstmad::files::read(tmp.file("resumed/config.json")), config);
  const json legs = json::parse(lstmad::files::read(tmp.file("resumed/manifest.json")))["resumes"];
  ASSERT_EQ(legs.size(), 1u) << legs.dump();
  EXPECT_EQ(legs[0]["overrides"], json::array({"run.series_memory_mb=1"})) << legs.dump();
}

// eval.vus changed what vus_roc and vus_pr compute: a run folder made before the key existed (its
// config.json has none) is resumed with the definition it was made with, so its cells agree; a run made
// now gets the current default, whose values differ.
TEST_F(Resume, ARunMadeBeforeEvalVusKeepsItsDefinition) {
  TempDir tmp("vus-definition");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  const std::string run = lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set train.epochs=1";
  ASSERT_EQ(run_command(run + " --set eval.vus=vldb2022 --out " + tmp.file("old"), &out), 0) << out;
  ASSERT_EQ(run_command(run + " --out " + tmp.file("now"), &out), 0) << out;
  const auto vus_of = [](const std::string& dir) {
    std::map<std::string, std::string> v;
    for (const auto& row : read_results_csv(dir + "/results.csv"))
      v[row.at("cell_id")] = row.at("vus_roc") + " " + row.at("vus_pr");
    return v;
  };
  const auto old_values = vus_of(tmp.file("old"));
  ASSERT_FALSE(old_values.empty());
  EXPECT_NE(vus_of(tmp.file("now")), old_values) << "the two definitions give other values on these series";
  // The old run as an earlier version wrote it: no eval.vus; one cell to run again.
  json cfg = json::parse(lstmad::files::read(tmp.file("old/config.json")));
  cfg["eval"].erase("vus");
  write_text(tmp.file("old/config.json"), cfg.dump(2));
  const auto cell = fs::directory_iterator(tmp.file("old/cells"))->path();
  fs::remove(cell);
  ASSERT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("old"), &out), 0) << out;
  EXPECT_TRUE(fs::exists(cell));
  EXPECT_EQ(vus_of(tmp.file("old")), old_values);
  // A rescore of it keeps the definition too.
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q rescore " + tmp.file("old") + " --out " + tmp.file("re"), &out), 0)
      << out;
  EXPECT_EQ(vus_of(tmp.file("re")), old_values);
}

// A resume by a binary other than the one that ran the last leg says so: the finished cells and the new
// ones come from two builds. A resume by the same build says nothing of it.
TEST_F(Resume, AResumeByAnotherBuildIsSaid) {
  TempDir tmp("other-build");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  ASSERT_TRUE(one_epoch_run(tmp.file("cfg.json"), tmp.file("a")));
  fs::remove(fs::directory_iterator(tmp.file("a/cells"))->path());
  ASSERT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("a"), &out), 0) << out;
  EXPECT_EQ(out.find("another build"), std::string::npos) << out;
  // The last leg (the resume just made) as an older build recorded it.
  json m = json::parse(lstmad::files::read(tmp.file("a/manifest.json")));
  ASSERT_TRUE(m["resumes"].is_array() && !m["resumes"].empty()) << m.dump();
  m["resumes"].back()["git_hash"] = "0123456789ab";
  m["resumes"].back()["lstmad_version"] = "0.0.1";
  write_text(tmp.file("a/manifest.json"), m.dump(2));
  fs::remove(fs::directory_iterator(tmp.file("a/cells"))->path());
  std::string version;
  ASSERT_EQ(run_command(lstmad_binary() + " --version", &version), 0);
  ASSERT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("a"), &out), 0) << out;
  if (version.find("unknown") != std::string::npos) {
    EXPECT_EQ(out.find("another build"), std::string::npos)
        << "a build of unknown commit cannot compare: " << out;
  } else {
    EXPECT_NE(out.find("computed by lstmad 0.0.1 (0123456789ab)"), std::string::npos) << out;
    EXPECT_NE(out.find("another build"), std::string::npos) << out;
  }
}

// A resume refused after its folder was opened (here for want of the cuDNN engine's device) adds no leg to
// the manifest: the leg's build would otherwise be taken, at the next resume, for the one that computed
// the cells. Where this machine has a GPU the cuDNN resume runs, and its leg is recorded.
TEST_F(Resume, ARefusedResumeRecordsNoLeg) {
  TempDir tmp("refused-leg");
  write_text(tmp.file("cfg.json"), kConfig);
  ASSERT_TRUE(one_epoch_run(tmp.file("cfg.json"), tmp.file("a")));
  fs::remove(fs::directory_iterator(tmp.file("a/cells"))->path());
  const std::string config = lstmad::files::read(tmp.file("a/config.json"));
  const std::string manifest = lstmad::files::read(tmp.file("a/manifest.json"));
  json cfg = json::parse(config);
  cfg["engine"]["name"] = "cudnn";
  cfg["engine"]["fallback"] = "";
  write_text(tmp.file("a/config.json"), cfg.dump(2));
  std::string out;
  const int rc = run_command(lstmad_binary() + " run --resume " + tmp.file("a"), &out);
  const json after = json::parse(lstmad::files::read(tmp.file("a/manifest.json")));
  const size_t legs_before = json::parse(manifest).value("resumes", json::array()).size();
  if (rc != 0) {
    EXPECT_EQ(lstmad::files::read(tmp.file("a/manifest.json")), manifest) << out;
  } else {
    ASSERT_TRUE(after.contains("resumes")) << after.dump();
    EXPECT_EQ(after["resumes"].size(), legs_before + 1) << out;
  }
  write_text(tmp.file("a/config.json"), config);
  ASSERT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("a"), &out), 0) << out;
  const json last = json::parse(lstmad::files::read(tmp.file("a/manifest.json")));
  EXPECT_EQ(last["resumes"].size(), legs_before + (rc != 0 ? 1 : 2)) << last.dump();
}

// A finished cell whose scores file or saved model a torn write or a hand left damaged runs again at a
// resume, named, instead of failing its detector's NAB score (or a later detect) at every resume; and a
// series whose file name holds ".tmp." keeps its scores file (only NAME.tmp.<pid>.<n> is a write that
// never finished).
TEST_F(Resume, DamagedOutputsOfAFinishedCellRunItAgain) {
  TempDir tmp("damaged-outputs");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  ASSERT_TRUE(one_epoch_run(tmp.file("cfg.json"), tmp.file("a"), "--set run.save_models=true"));
  const std::string scores = lstmad::files::read(tmp.file("a/nab_scores.json"));
  std::vector<std::string> nab_files;
  for (const auto& f : fs::recursive_directory_iterator(tmp.file("a/nab")))
    if (f.path().extension() == ".csv" && f.path().filename().string().find("_scores") == std::string::npos)
      nab_files.push_back(f.path().string());
  std::sort(nab_files.begin(), nab_files.end());
  ASSERT_GE(nab_files.size(), 2u);
  const std::string torn = nab_files[0], before = lstmad::files::read(torn);
  write_text(torn, before.substr(0, before.size() / 2));  // cut mid-line
  std::string checkpoint;
  for (const auto& f : fs::recursive_directory_iterator(tmp.file("a/models")))
    if (checkpoint.empty() && f.path().extension() == ".ckpt") checkpoint = f.path().string();
  ASSERT_FALSE(checkpoint.empty());
  const std::string model = lstmad::files::read(checkpoint);
  write_text(checkpoint, model.substr(0, model.size() - 10));
  // What a killed write leaves beside a result, and the scores file of a series named like one.
  write_text(tmp.file("a/cells/0123456789abcdef.json.tmp.999999999.0"), "{\"id\": ");
  const std::string lookalike = nab_files[1] + ".tmp.00.csv";
  write_text(lookalike, "timestamp,value,anomaly_score,label\n");
  ASSERT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("a"), &out), 0) << out;
  EXPECT_NE(out.find(torn + ": damaged ("), std::string::npos) << out;
  EXPECT_NE(out.find("saved models: " + checkpoint), std::string::npos) << out;
  EXPECT_EQ(lstmad::files::read(torn), before);
  EXPECT_EQ(lstmad::files::read(checkpoint), model);
  EXPECT_EQ(lstmad::files::read(tmp.file("a/nab_scores.json")), scores);
  EXPECT_FALSE(fs::exists(tmp.file("a/cells/0123456789abcdef.json.tmp.999999999.0")));
  EXPECT_TRUE(fs::exists(lookalike)) << "a file named like a series is no unfinished write";
  ASSERT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("a"), &out), 0) << out;
  EXPECT_EQ(out.find("runs again"), std::string::npos) << out;
  // A config.json that does not parse was damaged (exit 3, naming it), not a config to correct (2).
  const std::string config = lstmad::files::read(tmp.file("a/config.json"));
  write_text(tmp.file("a/config.json"), config.substr(0, 100));
  EXPECT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("a"), &out), 3) << out;
  EXPECT_NE(out.find(tmp.file("a/config.json") + ":"), std::string::npos) << out;
  EXPECT_NE(out.find("damaged"), std::string::npos) << out;
  // A run killed before it wrote its manifest holds its config alone: resumed without any input said to
  // be added since.
  fs::create_directories(tmp.file("b"));
  write_text(tmp.file("b/config.json"), config);
  ASSERT_EQ(run_command(lstmad_binary() + " run --resume " + tmp.file("b"), &out), 0) << out;
  EXPECT_EQ(out.find("added"), std::string::npos) << out;
  const json m = json::parse(lstmad::files::read(tmp.file("b/manifest.json")));
  EXPECT_EQ(m["resumes"].back()["inputs"], json::parse(R"({"added": [], "changed": [], "removed": []})"))
      << m.dump();
}

// Commands killed as they wrote their first file leave NAME.tmp.<pid>.<n> where the folder is not yet a
// run: the same command, given the folder again, removes it.
TEST_F(Resume, TheFirstWriteOfAKilledCommandIsRemovedByTheSameCommand) {
  TempDir tmp("first-write");
  write_text(tmp.file("cfg.json"), kConfig);
  std::string out;
  fs::create_directories(tmp.file("run"));
  write_text(tmp.file("run/config.json.tmp.999999999.0"), "{\"da");
  write_text(tmp.file("run/notes.tmp.1.2"), "not lstmad's");
  ASSERT_EQ(run_command(lstmad_binary() + " -q run " + tmp.file("cfg.json") + " --set train.epochs=1 --out " +
                            tmp.file("run"),
                        &out),
            0)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("run/config.json.tmp.999999999.0")));
  EXPECT_TRUE(fs::exists(tmp.file("run/notes.tmp.1.2"))) << "only the files lstmad writes there";
  // Nor does a resume take a user's files, anywhere in the folder, or a write whose writer is alive (a
  // report in flight, here this test's own pid).
  fs::create_directories(tmp.file("run/mine"));
  write_text(tmp.file("run/mine/data.tmp.999999999.6"), "the user's");
  const std::string live = tmp.file("run/report.html.tmp." + std::to_string(::getpid()) + ".0");
  write_text(live, "<!DOCTYPE");
  write_text(tmp.file("run/summary.json.tmp.999999999.1"), "{");
  ASSERT_EQ(run_command(lstmad_binary() + " -q run --resume " + tmp.file("run"), &out), 0) << out;
  EXPECT_TRUE(fs::exists(tmp.file("run/notes.tmp.1.2")));
  EXPECT_TRUE(fs::exists(tmp.file("run/mine/data.tmp.999999999.6")));
  EXPECT_TRUE(fs::exists(live)) << "a live writer's temporary file was removed";
  EXPECT_FALSE(fs::exists(tmp.file("run/summary.json.tmp.999999999.1")));
  fs::remove(live);
  // A report killed as it wrote its pages: the pages of a process that is gone.
  write_text(tmp.file("run/report.html.tmp.999999999.3"), "<!DOCTYPE");
  write_text(tmp.file("run/report-2.html.tmp.999999999.4"), "<!DOCTYPE");
  write_text(tmp.file("run/other.html.tmp.999999999.4"), "<!DOCTYPE");
  ASSERT_EQ(run_command(lstmad_binary() + " -q report " + tmp.file("run"), &out), 0) << out;
  EXPECT_FALSE(fs::exists(tmp.file("run/report.html.tmp.999999999.3")));
  EXPECT_FALSE(fs::exists(tmp.file("run/report-2.html.tmp.999999999.4")));
  EXPECT_TRUE(fs::exists(tmp.file("run/other.html.tmp.999999999.4")));
  // A merge killed as it wrote its marker.
  fs::create_directories(tmp.file("merged"));
  write_text(tmp.file("merged/.merging.tmp.999999999.0"), "lstmad merge");
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q merge " + tmp.file("run") + " --out " + tmp.file("merged"), &out), 0)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("merged/.merging.tmp.999999999.0")));
  // A rescore killed as it wrote its manifest.
  fs::create_directories(tmp.file("re"));
  write_text(tmp.file("re/manifest.json.tmp.999999999.0"), "{");
  ASSERT_EQ(
      run_command(lstmad_binary() + " -q rescore " + tmp.file("run") + " --out " + tmp.file("re"), &out), 0)
      << out;
  EXPECT_FALSE(fs::exists(tmp.file("re/manifest.json.tmp.999999999.0")));
}
