// libFuzzer target: the readers of the other files a run or `lstmad nab` takes in, on arbitrary bytes: NumPy
// .npy arrays and NASA's labeled_anomalies.csv (data.format "nasa"), model checkpoints (`lstmad detect`),
// NAB-format detector results, thresholds and profiles (`lstmad nab score`, rescore), and the strict JSON
// reader every run-folder file goes through. Bad input must end in lstmad::Error naming the source, never a
// crash, hang, leak, undefined behaviour or a result that breaks its own invariants.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/log.hpp"
#include "data/nasa.hpp"
#include "data/npy.hpp"
#include "eval/nab_corpus.hpp"
#include "eval/nab_scorer.hpp"
#include "lstm/shape.hpp"
#include "train/checkpoint.hpp"

namespace {

template <class F>
void refused_or_ok(F&& f) {
  try {
    f();
  } catch (const lstmad::Error& e) {
    if (std::string(e.what()).find("fuzz") == std::string::npos) __builtin_trap();  // the source is named
  }
}

void npy(const std::string& bytes) {
  const lstmad::NpyArray a = lstmad::parse_npy(bytes, "fuzz.npy");
  if (a.shape.empty() || a.shape.size() > 2 || a.data.size() != a.rows() * a.cols()) __builtin_trap();
}

void checkpoint(const std::string& bytes) {
  const lstmad::Checkpoint c = lstmad::parse_checkpoint(bytes, "fuzz.ckpt");
  if (c.params.size() != lstmad::param_count(c.shape) || c.window < 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (lstmad::log::set_level(lstmad::log::Level::Off), true);
  (void)quiet;
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Binary files: as given, and behind their magic so that the fuzzer starts past it.
  refused_or_ok([&] { npy(text); });
  refused_or_ok([&] { npy(std::string("\x93NUMPY\x01\x00", 8) + text); });
  refused_or_ok([&] { checkpoint(text); });
  refused_or_ok([&] { checkpoint(std::string("LSTMADCK\x02\x00\x00\x00", 12) + text); });
  refused_or_ok([&] {
    for (const auto& row : lstmad::parse_nasa_labels(text, "fuzz.csv"))
      for (const auto& [start, end] : row.sequences)
        if (start < 0 || end < start) __builtin_trap();
  });
  // A detector's results: with as many rows as the text has lines after its header, and against
  // timestamps a minute apart.
  long lines = 0;
  for (char c : text) lines += c == '\n';
  const int rows = static_cast<int>(lines > 1 ? lines - 1 : 1);
  refused_or_ok([&] {
    if (lstmad::nab_parse_result_scores(text, "fuzz.csv", rows).size() != static_cast<size_t>(rows))
      __builtin_trap();
  });
  refused_or_ok([&] {
    std::vector<int64_t> times(static_cast<size_t>(rows));
    for (size_t k = 0; k < times.size(); ++k) times[k] = 1388534400000000LL + static_cast<int64_t>(k) * 60000000LL;
    (void)lstmad::nab_parse_result_scores(text, "fuzz.csv", rows, &times);
  });
  refused_or_ok([&] { (void)lstmad::nab_parse_thresholds(text, "fuzz.json"); });
  refused_or_ok([&] { (void)lstmad::nab_parse_profiles(text, "fuzz.json"); });
  lstmad::JsonProblem problem;
  if (!lstmad::parse_json_strict(text, problem) && (problem.line < 1 || problem.column < 1 || problem.what.empty()))
    __builtin_trap();
  return 0;
}
