// The scheduler: the cells of a plan -> ModelBatches -> one queue per device.
//
// Cells whose models share a shape (L, D, H, horizon), a window T, a minibatch size B and the retraining
// schedule form one group, whatever setting they come from (a learning-rate or seed grid is one group).
// A group is cut into ModelBatches whose size follows the engine:
//   cpu, cudnn   run.batch_models, or when 0 8 x threads (cpu) and 2 x threads (cudnn) (the CPU engine
//                spreads a batch over threads and waits for its slowest model, the cuDNN engine loops over
//                it on streams);
//   fused        as many models as fit a fraction of the device's memory (kernels/lstm_multi_plan.hpp
//                gives the bytes one model holds), rounded down to whole waves of the time-loop kernels
//                when more than one wave fits (a wave: the models whose blocks the SMs hold at once);
//                run.batch_models, when set, caps it.
// Batches of a group have near-equal sizes (they differ by one model at most). With several devices each
// batch goes, largest work first, to the device with the least work so far: one queue per device. Every
// cell's result is independent of its batch and device (the engines' ModelBatch contract), so none of
// this changes a result, only where and when it is computed.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "experiments/config.hpp"
#include "lstm/engine.hpp"  // Precision
#include "lstm/shape.hpp"

namespace lstmad {

// What the models of one ModelBatch must share.
struct BatchKey {
  ModelShape shape;  // input = the series' width
  int window = 0;
  int batch = 0;  // train.batch
  int retrain_every = 0, retrain_rows = 0, retrain_epochs = 0;
  bool operator<(const BatchKey& o) const;
  bool operator==(const BatchKey& o) const;
  std::string str() const;  // "L=1 D=1 H=64 horizon=1 T=50 B=64"
};

// The key of a setting's models on series of `input_dims` columns.
BatchKey batch_key(const json& setting_values, int input_dims);

class Engine;
// Why `engine` cannot train the models of `key` ("" when it can): its unsupported_reason for the key's
// shape, window and minibatch size, the limits it checks without the data (and without a device where
// there is none).
std::string engine_refusal(const Engine& engine, const BatchKey& key);

// What the sizing reads of a device (kernels::DeviceInfo, or made up in tests).
struct DeviceProps {
  int ordinal = 0;
  std::size_t memory_bytes = 0;
  int sm_count = 1;
  int smem_per_block_optin = 48 * 1024;
  int smem_per_sm = 64 * 1024;
  int max_threads_per_block = 1024;
};

// The largest model of a group, for sizing.
struct GroupExtent {
  long long rows = 0, train = 0, val = 0;
};

struct BatchSizing {
  std::size_t bytes_per_model = 0;
  int by_memory = 0;  // models that fit memory_fraction of the device
  int wave = 0;       // models whose time-loop blocks the SMs hold at once
  int models = 0;     // the batch size chosen
};

// How many models of `key` go into one fused ModelBatch on device `d`, at any precision (the buffers are
// fp32 at all of them). A pure function of its arguments and of the LSTMAD_FUSED_INPUT switch, which
// decides, as in the engine, whether a model holds a gx buffer (fused_input_in_loop). cap > 0 bounds the
// result (run.batch_models). At least 1.
BatchSizing size_fused_batch(const BatchKey& key, const GroupExtent& extent, const DeviceProps& d,
                             double memory_fraction = 0.75, int cap = 0);

// One cell as the scheduler sees it.
struct CellWork {
  int cell = 0;  // caller's index (the runner: position in its list of cells to run)
  BatchKey key;
  long long rows = 0, train = 0, val = 0;
  int epochs = 1;
};

struct ScheduledBatch {
  BatchKey key;
  std::vector<int> cells;  // CellWork::cell values, in input order
  int device = 0;          // DeviceProps::ordinal of the queue it is in (0 for the CPU engine)
  double work = 0;         // sum over its cells of training windows x epochs (for placement)
};

struct SchedulerOptions {
  std::string engine = "cpu";  // "cpu", "cudnn" or "fused"
  int threads = 1;
  int batch_models = 0;              // run.batch_models
  std::vector<DeviceProps> devices;  // GPU engines: the devices to use (empty: one queue, device 0)
  double memory_fraction = 0.75;
  Precision precision = Precision::FP32;  // engine.precision: the fused engine's buffers depend on it
};

struct Schedule {
  std::vector<std::vector<ScheduledBatch>> queues;  // one per device (one for the CPU engine)
  std::vector<int> devices;                         // ordinal of each queue
  std::size_t batches() const;
};

// Groups, sizes and places the cells. Groups come in key order, and cells keep their input order inside
// a group, so the schedule is a pure function of its inputs.
Schedule schedule_cells(const std::vector<CellWork>& cells, const SchedulerOptions& options);

}  // namespace lstmad
