// The configuration schema: every key of an experiment config with its type, default, range, whether it
// may be a grid axis, and its meaning (docs/config.md is generated from it: `lstmad config-reference`).
#include <vector>

#include "experiments/config.hpp"

namespace lstmad {
namespace {

std::vector<KeyDef> make_schema() {
  using T = KeyType;
  std::vector<KeyDef> s;
  auto add = [&](std::string path, T type, json def, std::string doc, double lo = -1e300, double hi = 1e300,
                 std::vector<std::string> choices = {}, bool grid = false) {
    s.push_back(
        KeyDef{std::move(path), type, std::move(def), lo, hi, std::move(choices), grid, std::move(doc)});
  };
  // data
  add("data.format", T::String, "synthetic",
      "Corpus layout: `synthetic` (the built-in generator, written into the run folder), `nab` (NAB's "
      "data/<category>/<file>.csv and labels/), `nasa` (SMAP/MSL .npy channels), `ucr` (the UCR anomaly "
      "archive: NNN_UCR_Anomaly_<name>_<train end>_<begin>_<end>.txt files, one anomaly each; ids "
      "`UCR/<file stem>.csv`), `csv` (a folder of CSV files, any depth, with a header; data.csv.* names the "
      "columns; ids are the paths under data.root, a file at its top getting the folder's name as category).",
      0, 0, {"synthetic", "nab", "nasa", "ucr", "csv"});
  add("data.root", T::String, "",
      "Corpus folder; a relative path is from the working folder the command runs in (not the config file's "
      "folder), and the run folder's config.json records it absolute. Empty: for `nab`, the NAB_ROOT "
      "environment variable (set, it must name a NAB corpus), else ../shared/nab from the working folder, "
      "else the shared/nab beside the source tree the binary was built from; a resume, rescore or detect of "
      "the run reads the corpus it found (manifest.json's corpus.root) while that is there (`nasa`, `ucr` "
      "and `csv` have no default: for them it is required).");
  add("data.csv.time_column", T::String, "timestamp",
      "csv: the time column (by default YYYY-MM-DD HH:MM:SS, YYYY-MM-DDTHH:MM:SS[Z], or seconds since 1970; "
      "see "
      "data.csv.time_format); \"\" = none, "
      "rows one second apart.");
  add("data.csv.time_format", T::String, "auto",
      "csv: how the time column reads: `auto` (the three forms of data.csv.time_column), `epoch_s` or "
      "`epoch_ms` (seconds or milliseconds since 1970), or a fixed pattern of %Y (4 digits), %m %d %H %M %S "
      "(2 digits), %f (a fraction) and literal characters, e.g. `%Y%m%d` or `%d/%m/%Y %H:%M`.");
  add("data.csv.label_column", T::String, "",
      "csv: the label column, nonzero on anomalous rows (each run of them is one anomaly window); \"\" = "
      "unlabeled, no metrics.");
  add("data.csv.anomaly_labels", T::StringList, json::array(),
      "csv: the label values that mark an anomalous row, as text (e.g. [\"Attack\"] or [\"-1\"]); every "
      "other value is normal. Empty = the label is a number, nonzero on anomalous rows.");
  add("data.csv.label_windows", T::String, "rows",
      "csv: `rows` (each run of labeled rows is one anomaly window) or `nab` (NAB's window around each run: "
      "10 % of the file's rows shared among its anomalies, a first window inside the probationary part "
      "dropped, overlapping windows merged), so that NAB scores weigh early and late detections as on NAB.",
      0, 0, {"rows", "nab"});
  add("data.csv.value_columns", T::StringList, json::array(),
      "csv: the value columns, the first being the one predicted and scored; empty = every other column in "
      "file "
      "order.");
  add("data.windows_file", T::String, "labels/combined_windows.json",
      "Label windows file, relative to data.root (NAB layout).");
  add("data.files", T::StringList, json::array(),
      "Series to use, as corpus-relative paths or patterns (`realKnownCause/*`). Empty: all.");
  add("data.max_files", T::Int, 0, "Use at most this many series (after data.files), 0 = all.", 0, 1e9);
  add("data.missing", T::String, "reject",
      "Missing values: `reject` (error naming file and row), `interpolate` (linear), `carry_forward`.", 0, 0,
      {"reject", "interpolate", "carry_forward"});
  add("data.normalize", T::String, "minmax",
      "Scaling fitted on the training rows only: `minmax` (to [0, 1]), `zscore`, or `none` (data already "
      "scaled, e.g. NASA telemetry).",
      0, 0, {"minmax", "zscore", "none"});
  add("data.train_fraction", T::Number, 0.0,
      "Rows trained on (and that fit the normalization): 0 = NAB's probationary length min(floor(0.15 n), "
      "750), "
      "else this fraction of the rows (`csv` too). `nasa` and `ucr` series bring their own training part.",
      0, 0.95);
  add("data.time_features", T::StringList, json::array(),
      "Calendar inputs added to each row from its timestamp, each as a sine and cosine of its phase: "
      "`time_of_day`, `day_of_week` (the model input grows by 2 per feature; predicted and scored is still "
      "column 0). Series without timestamps fail their cells.",
      0, 0, {"time_of_day", "day_of_week"});
  add("data.time_features_gate", T::Number, 0.0,
      "Give a series a calendar input only where its training rows follow that calendar: their "
      "autocorrelation at a lag of one period (a day or a week, in rows from the median time step) is at "
      "least "
      "this. Series with fewer than two periods of training rows, or without timestamps, get none. 0 = every "
      "series gets them.",
      0, 1);
  add("data.synthetic.seed", T::Int, 7, "Seed of the synthetic corpus.", 0, 9.007e15);
  add("data.synthetic.series_per_kind", T::Int, 2, "Synthetic series per anomaly kind.", 1, 1000);
  add("data.synthetic.length", T::Int, 3000, "Rows per synthetic series.", 500, 1e7);
  add("data.nasa.spacecraft", T::String, "",
      "NASA data: only channels of this spacecraft (`SMAP`, `MSL`); empty = all.", 0, 0, {"", "SMAP", "MSL"});
  // model
  add("model.layers", T::Int, 2, "LSTM layers (L).", 1, 8, {}, true);
  add("model.hidden", T::Int, 64, "Hidden units per layer (H).", 1, 4096, {}, true);
  add("model.window", T::Int, 50, "Input window length in rows (T).", 1, 100000, {}, true);
  add("model.horizon", T::Int, 1,
      "Values predicted per window (the next `horizon` rows). A row's error is the mean absolute error of "
      "the predictions made for it, from the windows ending 1 .. horizon rows before it.",
      1, 1000, {}, true);
  add("model.forget_bias", T::NumberOrNull, nullptr,
      "Initial forget-gate bias (null: the uniform initialisation like every other bias).", -100, 100, {},
      true);
  // train
  add("train.epochs", T::Int, 30, "Maximum training epochs.", 1, 100000, {}, true);
  add("train.batch", T::Int, 64,
      "Minibatch size (windows). The loss is the MSE over a minibatch's windows and horizon steps (PyTorch's "
      "MSELoss with reduction 'mean'); an epoch's last, smaller minibatch is kept, with the mean over its "
      "own "
      "windows.",
      1, 100000, {}, true);
  add("train.lr", T::Number, 1e-3, "Adam learning rate.", 1e-12, 10, {}, true);
  add("train.weight_decay", T::Number, 0.0, "L2 penalty added to the gradient (Adam).", 0, 10, {}, true);
  add("train.clip_norm", T::Number, 1.0, "Global gradient-norm clipping; 0 disables it.", 0, 1e9, {}, true);
  add("train.patience", T::Int, 5,
      "Early stopping: epochs without validation improvement; 0 disables it. With validation windows the "
      "parameters of the best validation epoch are kept either way, not the last epoch's.",
      0, 100000, {}, true);
  add("train.min_delta", T::Number, 0.0, "Smallest validation-loss decrease that counts as improvement.", 0,
      1e9);
  add("train.val_fraction", T::Number, 0.2,
      "Fraction of the training windows (the latest ones) held out for validation, taken before "
      "train.max_windows caps the rest.",
      0, 0.9, {}, true);
  add("train.purge", T::Bool, false,
      "Leave out the training windows whose targets are also validation targets (the last model.horizon - 1 "
      "before the validation split), so early stopping is judged on rows never trained on. Only matters for "
      "model.horizon > 1. Off by default so that earlier runs' settings, seeds and results stay as they "
      "were.",
      0, 0, {}, true);
  add("train.retrain_every", T::Int, 0,
      "Keep learning while scoring: after every this many rows past the training part, fine-tune on the "
      "latest "
      "rows (causal; 0 = train once).",
      0, 1e9, {}, true);
  add("train.retrain_rows", T::Int, 0,
      "Rows of recent targets used by each fine-tuning (0 = the training part's length). Fewer than "
      "model.horizon leave no window to fine-tune on: `validate` rejects such a setting.",
      0, 1e9, {}, true);
  add("train.retrain_epochs", T::Int, 5,
      "Epochs of each fine-tuning: from the model as it stands, with a fresh Adam (its moments and step "
      "count reset), no validation, no early stopping and no train.max_windows cap; the last epoch's "
      "parameters are kept.",
      1, 100000, {}, true);
  add("train.max_windows", T::Int, 0,
      "Cap on training windows per series (latest kept), 0 = all; applied after the validation split, "
      "whose windows it leaves alone.",
      0, 1e9);
  // detector
  add("detector.name", T::String, "lstmad",
      "Detector name in NAB outputs: letters, digits, `-`, `.` and `+` (no `_`: NAB splits file names "
      "there). With a grid, each setting gets `<name>-<setting id>`.");
  add("detector.score", T::String, "likelihood",
      "Errors to scores: `error` (the smoothed error e itself, as e / (e + error_floor): its ranking "
      "unchanged, "
      "for threshold-free metrics and the UCR score), `error_ratio` (error over its running maximum, with a "
      "floor), `likelihood` (anomaly likelihood of the recent mean error under a rolling error distribution) "
      "or "
      "`dynamic_threshold` (Hundman et al.'s nonparametric threshold with pruning, causal; binary scores) or "
      "`telemanom` (the same authors' published thresholding, per batch of rows as their code runs it; "
      "binary scores).",
      0, 0, {"error", "error_ratio", "likelihood", "dynamic_threshold", "telemanom"}, true);
  add("detector.smoothing", T::Int, 1,
      "Moving average of the absolute errors over the last this many errors (rows without a prediction "
      "skipped; 1 = none).",
      1, 100000, {}, true);
  add("detector.ewma_span", T::Number, 0.0,
      "Then an exponentially weighted moving average with this span, alpha = 2/(span+1), started at the "
      "first error (pandas' ewm with adjust=False; 0 = none; else at least 1, so that alpha <= 1 and each "
      "value is an average of the errors).",
      1, 1e6, {}, true);
  s.back().zero_is_off = true;
  add("detector.error_floor", T::Number, 0.01,
      "error_ratio: errors at or below this (in normalized units) score 0, and the running maximum is at "
      "least "
      "this. "
      "likelihood: the smallest spread of the error distribution. error: the error that scores 0.5.",
      0, 1e9, {}, true);
  add("detector.error_cap", T::Number, 0.0,
      "Smoothed errors above this (normalized units) count as this before the score rule, so one huge miss "
      "does not dominate the error distribution (0 = no cap).",
      0, 1e9, {}, true);
  add("detector.likelihood.long_window", T::Int, 8640,
      "likelihood: rows in the rolling estimate of the error distribution.", 10, 1e9, {}, true);
  add("detector.likelihood.short_window", T::Int, 10, "likelihood: rows in the recent mean error.", 1, 100000,
      {}, true);
  add("detector.likelihood.log", T::Bool, true,
      "likelihood: report log-scaled scores so that near-1 likelihoods stay distinct.", 0, 0, {}, true);
  add("detector.likelihood.reestimate_every", T::Int, 100,
      "likelihood: rows between fits of the error distribution (frozen in between).", 1, 1e9, {}, true);
  add("detector.likelihood.mean_floor", T::Number, 0.0,
      "likelihood: smallest mean of the error distribution (normalized units).", 0, 1e9, {}, true);
  add("detector.likelihood.filter", T::Bool, true,
      "likelihood: in a run of rows with tail probability <= 1e-5 only the first keeps it; the rest get "
      "1e-3.",
      0, 0, {}, true);
  add("detector.likelihood.learning", T::Number, 0.5,
      "likelihood: leading fraction of the training rows whose (in-sample) errors stay out of the fit (the "
      "dynamic_threshold rule leaves out every training row's).",
      0, 1, {}, true);
  add("detector.ndt.window", T::Int, 2000, "dynamic_threshold: history rows the threshold is chosen from.",
      10, 1e7, {}, true);
  add("detector.ndt.z_min", T::Number, 2.5, "dynamic_threshold: smallest z of eps = mean + z sd.", 0, 100, {},
      true);
  add("detector.ndt.z_max", T::Number, 10.0, "dynamic_threshold: largest z.", 0, 100, {}, true);
  add("detector.ndt.z_step", T::Number, 0.5, "dynamic_threshold: step of z.", 0.01, 100, {}, true);
  add("detector.ndt.buffer", T::Int, 100,
      "dynamic_threshold: rows after an anomalous run that stay anomalous.", 0, 1e7, {}, true);
  add("detector.ndt.prune", T::Number, 0.13,
      "dynamic_threshold: minimum fractional decrease between consecutive run peaks (pruning).", 0, 1, {},
      true);
  add("detector.ndt.min_history", T::Int, 100, "dynamic_threshold: error rows needed before any decision.", 2,
      1e7, {}, true);
  add("detector.telemanom.batch", T::Int, 70, "telemanom: rows each window advances by (batch_size).", 1, 1e7,
      {}, true);
  add("detector.telemanom.windows", T::Int, 30, "telemanom: batches in a window (window_size).", 1, 1e6, {},
      true);
  add("detector.telemanom.smoothing_perc", T::Number, 0.05,
      "telemanom: EWMA span (pandas, adjust=True) as a fraction of batch x windows rows.", 0.0001, 1e6, {},
      true);
  add("detector.telemanom.buffer", T::Int, 100, "telemanom: error_buffer, the rows around a flagged error.",
      1, 1e7, {}, true);
  add("detector.telemanom.prune", T::Number, 0.13,
      "telemanom: p, the minimum relative fall between consecutive run peaks.", 0, 1, {}, true);
  add("detector.telemanom.l_s", T::Int, 250,
      "telemanom: l_s, its input length: the first l_s smoothed errors become the mean of the first 2 l_s, "
      "and the first window flags none of its first 2 l_s rows (l_s under 2,500 scored rows, none under "
      "1,800); 0 = neither.",
      0, 1e7, {}, true);
  add("detector.spatial_margin", T::Number, 0.0,
      "A value beyond the range of all earlier values by this fraction of that range scores 1 (0 = off).", 0,
      100, {}, true);
  add("detector.suppress", T::Number, 0.0,
      "After a score >= detector.suppress_level, zero the scores of the next fraction of the series' rows "
      "(0 = off). The span is a fraction of the length of the series the models learned, also when "
      "`lstmad detect` scores that series with rows appended.",
      0, 1, {}, true);
  add("detector.suppress_rows", T::Int, 0,
      "Or zero the scores of the next this many rows: a span that does not depend on the series' length "
      "(0 = detector.suppress decides; not both).",
      0, 1e7, {}, true);
  add("detector.suppress_level", T::Number, 0.99, "Score that triggers suppression.", 0, 1, {}, true);
  // engine
  add("engine.name", T::String, "cpu", "Engine: `cpu`, `cudnn` or `fused` (GPU engines need a CUDA build).",
      0, 0, {"cpu", "cudnn", "fused"});
  add("engine.precision", T::String, "fp32",
      "Arithmetic: engine cpu computes in `fp32` or `fp64` (the reference), cudnn in `fp32` or `tf32`, "
      "fused in `fp32`, `tf32` or `bf16`.",
      0, 0, {"fp32", "fp64", "tf32", "bf16"});
  add("engine.fallback", T::String, "",
      "Engine for the ModelBatches whose shape engine.name refuses (e.g. the fused tensor-core kernels at H "
      "not a multiple of 16), with a logged warning; at engine.precision where it takes it, else fp32. "
      "Empty: those cells fail, naming an engine that can. Not a stand-in for a missing device: without "
      "one the run is refused, unless the fallback is `cpu` and engine.name refuses every model.",
      0, 0, {"", "cpu", "cudnn", "fused"});
  add("engine.algo", T::String, "standard", "cuDNN algorithm: `standard` or `persist_static_small_h`.", 0, 0,
      {"standard", "persist_static_small_h"});
  add("engine.streams", T::Int, 4, "cuDNN engine: CUDA streams for the loop over models.", 1, 64);
  add("engine.device", T::Int, 0, "CUDA device ordinal (GPU engines: the first device used).", 0, 64);
  add("engine.devices", T::Int, 0,
      "GPU engines: devices to spread ModelBatches over, one queue each, from engine.device on (0 = every "
      "visible one).",
      0, 64);
  // eval
  add("eval.nab", T::Bool, true,
      "Score the corpus as NAB does (needs label windows: NAB's, or another corpus' labels as they are).");
  add("eval.profiles", T::String, "",
      "NAB profiles file (NAB's config/profiles.json layout; relative: from the working folder, as "
      "data.root); empty: NAB's three standard profiles.");
  add("eval.threshold", T::Number, 0.5,
      "Threshold for the point, event and range metrics per series (scores lie in [0, 1]: above 1, which "
      "is warned of, nothing is flagged).",
      0, 1e9);
  add("eval.vus_max_buffer", T::Int, 0, "Largest buffer of VUS-ROC/PR (0 = the metric's default).", 0, 1e7);
  add("eval.vus", T::String, "tsb_ad",
      "Definition of VUS-ROC/PR (docs/metrics.md): tsb_ad, the VUS authors' current code as the TSB-AD "
      "benchmark reports it (a buffer row is a positive only where detected; step-wise PR), or vldb2022, "
      "their 2022 paper's (every buffer row a positive; trapezoids). Runs made before this key was added "
      "keep vldb2022.",
      0, 0, {"tsb_ad", "vldb2022"});
  add("eval.ucr_tolerance", T::Int, 100,
      "UCR score: the row with the highest score hits a series' one anomaly [b, e] when it lies in "
      "[b - m, e + m], m = max(e - b + 1, this). 100 is the archive's convention.",
      0, 1e9);
  // run
  add("run.name", T::String, "experiment", "Name used in the run folder `runs/<timestamp>-<name>`.");
  add("run.seed", T::Int, 42,
      "Run seed; each cell's seed derives from it, the setting's model and train values and the series "
      "(not its detector values: detector variants train the same models).",
      0, 9.007e15, {}, true);
  add("run.threads", T::Int, 0,
      "Worker threads (0 = all cores the process may run on: its CPU affinity, e.g. taskset or a Slurm job's "
      "CPUs, and at most its control group's CPU quota, rounded up, e.g. a container's --cpus; the CLI's -j "
      "overrides).",
      0, 4096);
  add("run.out", T::String, "runs",
      "Folder that receives run folders (relative: from the working folder, not the config file's).");
  add("run.max_train_seconds", T::Number, 0.0,
      "Wall-clock limit of a model's training, checked between epochs (on the fused engine, whose models "
      "train "
      "in lockstep, the ModelBatch's time counts): a model past it stops and its cell ends TIMEOUT, without "
      "scores, like a failed one. A resource limit, not a hyperparameter: it leaves setting ids and seeds "
      "alone. 0: none.",
      0, 1e9);
  add("run.save_models", T::Bool, false,
      "Keep every cell's trained models in the run folder (models/<cell id>/: one checkpoint per model and "
      "the normalization of its training rows), so that `lstmad detect` can score new rows with them. A "
      "run option, not a hyperparameter: setting ids and seeds stay as they are.");
  add("run.batch_models", T::Int, 0,
      "Models trained per engine call (a ModelBatch); 0 = the engine's choice (cpu: 8 x threads; cudnn: 2 x "
      "threads; "
      "fused: as many as fit the device's memory). For fused, a cap.",
      0, 1e6);
  add("run.series_memory_mb", T::Int, 0,
      "Memory for the prepared series kept from loading to the end of the run (about 65 bytes a row for one "
      "value column); "
      "the series beyond it are read and prepared again for each ModelBatch that trains their models and "
      "released after it, and the cells' scores are then read back from their NAB-format files for the "
      "closing NAB sweep instead of kept, so that a corpus larger than memory runs in the memory of the "
      "series in flight. "
      "Results are the same either way. 0 = a quarter of the machine's memory (its cgroup limit where "
      "lower). A resource limit: setting ids and seeds stay as they are.",
      0, 1e9);
  return s;
}

}  // namespace

const std::vector<KeyDef>& config_schema() {
  static const std::vector<KeyDef> s = make_schema();
  return s;
}

}  // namespace lstmad
