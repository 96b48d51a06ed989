// Models whose buffers wait for the next model of the same shape, window and batch size.
//
// An LstmCpu holds the activations of every step for its largest minibatch: tens of MB at T = 100. The
// cpu engine made one per trained model and one per scored series; allocating and zero-filling them took
// 7 % of the samples in a profile of a NAB run (3 % the zero fill, 4 % page faults in the kernel). A
// model taken from the pool computes what a new one does, bit for bit: LstmCpu writes every buffer element
// it reads within the forward or backward that reads it, and keeps no other state between calls
// (ModelPool tests).
//
// At most `keep` models wait, the oldest dropped first. The cpu engine keeps one per thread, which
// covers the usual run: a ModelBatch trains models of one shape on every thread, and the scoring of a
// series follows its training.
#pragma once
#include <cstddef>
#include <iterator>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "lstm/shape.hpp"

namespace lstmad {

// Model: constructible from (shape, window, max_batch), with shape(), window() and max_batch().
template <typename Model>
class ModelPool {
 public:
  explicit ModelPool(std::size_t keep) : keep_(keep) {}

  // A waiting model of this shape, window and max_batch (the one given back last), or a new one.
  std::unique_ptr<Model> take(const ModelShape& shape, int window, int max_batch) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = free_.rbegin(); it != free_.rend(); ++it)
        if ((*it)->shape() == shape && (*it)->window() == window && (*it)->max_batch() == max_batch) {
          std::unique_ptr<Model> m = std::move(*it);
          free_.erase(std::next(it).base());
          return m;
        }
    }
    return std::make_unique<Model>(shape, window, max_batch);
  }

  void give_back(std::unique_ptr<Model> m) {
    std::unique_ptr<Model> dropped;  // destroyed after the lock is released
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(m));
    if (free_.size() > keep_) {
      dropped = std::move(free_.front());
      free_.erase(free_.begin());
    }
  }

  std::size_t waiting() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return free_.size();
  }

 private:
  std::size_t keep_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Model>> free_;
};

// A model taken from a pool for one scope and given back at its end, also when the scope throws.
template <typename Model>
class PooledModel {
 public:
  PooledModel(ModelPool<Model>& pool, const ModelShape& shape, int window, int max_batch)
      : pool_(pool), model_(pool.take(shape, window, max_batch)) {}
  ~PooledModel() { pool_.give_back(std::move(model_)); }
  PooledModel(const PooledModel&) = delete;
  PooledModel& operator=(const PooledModel&) = delete;
  Model& operator*() { return *model_; }

 private:
  ModelPool<Model>& pool_;
  std::unique_ptr<Model> model_;
};

}  // namespace lstmad
