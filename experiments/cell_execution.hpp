// Trains, forecasts and scores the cells of a run. A cell has one model per ensemble member (one without
// an ensemble). The models of all cells are grouped into ModelBatches (scheduler.hpp: one shape, window,
// minibatch size and retraining schedule, whatever their setting), one queue per device for the GPU
// engines; each batch is trained and forecast on its queue's engine, or on engine.fallback where the
// engine refuses the shape. A cell is scored when the last of its models is back and written at once
// (after its NAB-format scores and saved models: the cell file marks the cell finished), so a killed run
// loses only the cells in flight. A cell whose series failed to load, or whose settings leave a member no
// window to train on, fails alone, before anything trains.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "experiments/progress.hpp"
#include "experiments/run_folder.hpp"
#include "lstm/engine.hpp"

namespace lstmad {

// What every cell of one invocation shares.
struct CellRun {
  std::string dir;            // the run folder
  const json* cfg = nullptr;  // resolved
  const Plan* plan = nullptr;
  const RunSeries* series = nullptr;  // the plan's series (plan.series order)
  const ResultsStore* store = nullptr;
  int threads = 1;
  // Each finished cell's scores stay in memory for the closing NAB sweep; without, they are read back from
  // its NAB-format file there (the same values: the files hold them in shortest round-trip form). Off when
  // the series do not all fit run.series_memory_mb: a cell's scores are 8 bytes a row.
  bool keep_scores = true;
};

struct CellsOutcome {
  std::vector<CellResult> results;  // every cell this call finished, OK or not
  bool interrupted = false;         // `stop` was raised, and batches were left unstarted
};

// Runs `todo` (cells of run.plan). `engine` serves the first queue (engine.device; it may be null when
// `todo` is empty); the queues of further devices make their own. `progress` counts cells. Each queue
// checks `stop` before each batch: once it is above 0 the batches in flight finish and no other starts.
// Throws when a queue cannot start: an engine for a further device, or engine.fallback's engine, that
// cannot be made (the cells finished before that are written and kept).
CellsOutcome run_cells(const CellRun& run, const std::vector<const Cell*>& todo, Engine* engine,
                       Progress& progress, const std::atomic<int>& stop);

}  // namespace lstmad
