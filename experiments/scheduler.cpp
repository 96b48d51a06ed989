// The scheduler (scheduler.hpp): grouping, sizing and placement of ModelBatches. Host code only; the
// device properties come from the caller.
#include "experiments/scheduler.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "core/error.hpp"
#include "kernels/lstm_multi_plan.hpp"
#include "lstm/engine.hpp"
#include "lstm/fused/fused_switches.hpp"

namespace lstmad {

namespace {

auto key_tuple(const BatchKey& k) {
  return std::make_tuple(k.shape.layers, k.shape.input, k.shape.hidden, k.shape.horizon, k.window, k.batch,
                         k.retrain_every, k.retrain_rows, k.retrain_epochs);
}

// Cuts n items into ceil(n / most) runs of near-equal length (they differ by one at most).
std::vector<std::size_t> balanced_sizes(std::size_t n, std::size_t most) {
  std::vector<std::size_t> sizes;
  if (n == 0) return sizes;
  most = std::max<std::size_t>(most, 1);
  const std::size_t parts = (n + most - 1) / most;
  for (std::size_t p = 0; p < parts; ++p) sizes.push_back(n / parts + (p < n % parts ? 1 : 0));
  return sizes;
}

}  // namespace

bool BatchKey::operator<(const BatchKey& o) const {
  return key_tuple(*this) < key_tuple(o);
}
bool BatchKey::operator==(const BatchKey& o) const {
  return key_tuple(*this) == key_tuple(o);
}

std::string BatchKey::str() const {
  std::string s = shape.str() + " T=" + std::to_string(window) + " B=" + std::to_string(batch);
  if (retrain_every > 0)
    s += " retrain " + std::to_string(retrain_every) + "/" + std::to_string(retrain_rows) + "/" +
         std::to_string(retrain_epochs);
  return s;
}

BatchKey batch_key(const json& v, int input_dims) {
  BatchKey k;
  k.shape.layers = at_path(v, "model.layers").get<int>();
  k.shape.hidden = at_path(v, "model.hidden").get<int>();
  k.shape.horizon = at_path(v, "model.horizon").get<int>();
  k.shape.input = input_dims;
  k.window = at_path(v, "model.window").get<int>();
  k.batch = at_path(v, "train.batch").get<int>();
  k.retrain_every = at_path(v, "train.retrain_every").get<int>();
  if (k.retrain_every > 0) {  // the other two matter only with retraining
    k.retrain_rows = at_path(v, "train.retrain_rows").get<int>();
    k.retrain_epochs = at_path(v, "train.retrain_epochs").get<int>();
  }
  return k;
}

std::string engine_refusal(const Engine& engine, const BatchKey& key) {
  TrainOptions options;
  options.window = key.window;
  options.batch = key.batch;
  return engine.unsupported_reason(key.shape, options);
}

BatchSizing size_fused_batch(const BatchKey& key, const GroupExtent& extent, const DeviceProps& d,
                             double memory_fraction, int cap) {
  kernels::MultiModelExtent e;
  e.layers = key.shape.layers;
  e.input = key.shape.input;
  e.hidden = key.shape.hidden;
  e.horizon = key.shape.horizon;
  e.window = key.window;
  // A model's minibatch never exceeds its training windows.
  e.batch =
      static_cast<int>(std::max<long long>(1, std::min<long long>(key.batch, std::max(1LL, extent.train))));
  e.rows = extent.rows;
  e.train = extent.train;
  e.val = extent.val;
  e.input_in_loop = fused_input_in_loop(key.shape.input);
  BatchSizing s;
  s.bytes_per_model = kernels::multi_model_bytes(e);
  const double budget = static_cast<double>(d.memory_bytes) * memory_fraction;
  s.by_memory = static_cast<int>(std::min(budget / static_cast<double>(s.bytes_per_model), 1e9));
  // A wave: every model gets plan_fused_multi's blocks; the SMs hold blocks_per_sm of them each.
  kernels::FusedLimits lim;
  lim.sm_count = std::max(1, d.sm_count);
  lim.smem_optin = d.smem_per_block_optin;
  lim.max_threads = d.max_threads_per_block;
  const int probe = std::max(1, lim.sm_count);  // at N >= SMs each model gets its fewest blocks
  const kernels::FusedLaunch p = kernels::plan_fused_multi(key.shape.hidden, e.batch, probe, lim);
  const int per_sm = kernels::fused_blocks_per_sm(p, d.smem_per_sm);
  s.wave = p.grid > 0 ? std::max(1, lim.sm_count * std::max(1, per_sm) / p.grid) : 1;
  int models = std::max(1, s.by_memory);
  if (cap > 0) models = std::min(models, cap);
  if (models > s.wave) models -= models % s.wave;
  s.models = std::max(1, models);
  return s;
}

std::size_t Schedule::batches() const {
  std::size_t n = 0;
  for (const auto& q : queues) n += q.size();
  return n;
}

Schedule schedule_cells(const std::vector<CellWork>& cells, const SchedulerOptions& o) {
  const bool fused = o.engine == "fused";
  const bool gpu = o.engine == "fused" || o.engine == "cudnn";
  if (fused && o.devices.empty())
    throw Error(
        "scheduler: engine \"fused\" needs the properties of at least one device to size its batches");
  // The CPU engine has one queue; a GPU engine one per device given (one, device 0, when none is).
  std::vector<DeviceProps> devices = gpu ? o.devices : std::vector<DeviceProps>{};
  if (devices.empty()) devices.push_back(DeviceProps{});

  std::map<BatchKey, std::vector<const CellWork*>> groups;
  for (const CellWork& c : cells) groups[c.key].push_back(&c);

  std::vector<ScheduledBatch> all;
  for (const auto& [key, members] : groups) {
    std::size_t most = 0;
    if (fused) {
      GroupExtent ext;
      for (const CellWork* c : members) {
        ext.rows = std::max(ext.rows, c->rows);
        ext.train = std::max(ext.train, c->train);
        ext.val = std::max(ext.val, c->val);
      }
      // The smallest device decides, so that a batch fits whichever queue it lands in.
      int models = 0;
      for (const DeviceProps& d : devices) {
        const int m = size_fused_batch(key, ext, d, o.memory_fraction, o.batch_models).models;
        models = models == 0 ? m : std::min(models, m);
      }
      most = static_cast<std::size_t>(std::max(1, models));
    } else {
      // The CPU engine trains a batch's models one per thread and waits for the slowest before the next
      // batch: with 2 x threads models a batch, a core stood idle for 6 % of a configs/nab.json run at
      // -j 2 (17 % on a smaller run whose models stop at uneven epochs); with 8 x threads, 2 %. A model's
      // result does not depend on its batch. The cost is coarser progress: a cell is written when the
      // batches of all its models are done. cudnn keeps 2 x threads: its batches hold device memory.
      const int per_thread = o.engine == "cpu" ? 8 : 2;
      most =
          static_cast<std::size_t>(o.batch_models > 0 ? o.batch_models : per_thread * std::max(1, o.threads));
    }
    std::size_t at = 0;
    for (std::size_t size : balanced_sizes(members.size(), most)) {
      ScheduledBatch b;
      b.key = key;
      for (std::size_t k = at; k < at + size; ++k) {
        b.cells.push_back(members[k]->cell);
        b.work += static_cast<double>(members[k]->train) * std::max(1, members[k]->epochs);
      }
      at += size;
      all.push_back(std::move(b));
    }
  }

  Schedule s;
  s.queues.resize(devices.size());
  for (const DeviceProps& d : devices) s.devices.push_back(d.ordinal);
  if (devices.size() == 1) {
    for (auto& b : all) b.device = devices.front().ordinal;
    s.queues[0] = std::move(all);
    return s;
  }
  // Largest work first to the least loaded queue; ties go to the lower queue and the earlier batch.
  std::vector<std::size_t> order(all.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return all[a].work > all[b].work; });
  std::vector<double> load(devices.size(), 0.0);
  std::vector<std::vector<std::size_t>> placed(devices.size());
  for (std::size_t i : order) {
    const std::size_t q = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[q] += all[i].work;
    placed[q].push_back(i);
  }
  for (std::size_t q = 0; q < devices.size(); ++q) {
    std::sort(placed[q].begin(), placed[q].end());  // each queue runs in group order
    for (std::size_t i : placed[q]) {
      all[i].device = devices[q].ordinal;
      s.queues[q].push_back(all[i]);
    }
  }
  return s;
}

}  // namespace lstmad
