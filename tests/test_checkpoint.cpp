// Model checkpoints: a saved model loads back bit for bit with its shape and window; a flipped byte
// anywhere, a truncated file, trailing bytes, a wrong magic or format version, or a shape other than the
// expected one is a DataError that names the file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/files.hpp"
#include "lstm/init.hpp"
#include "support/test_support.hpp"
#include "train/checkpoint.hpp"

namespace lstmad {
namespace {

Checkpoint sample() {
  Checkpoint ck;
  ck.shape.layers = 2;
  ck.shape.input = 3;
  ck.shape.hidden = 5;
  ck.shape.horizon = 2;
  ck.window = 17;
  ck.params = init_params(ck.shape, 42);
  ck.params[3] = -0.0f;  // sign of zero and subnormals must survive
  ck.params[4] = 1e-40f;
  return ck;
}

// Loading `bytes` written to a file must throw a DataError whose message names the file and mentions
// `expect` (a fragment of the reason).
void expect_rejected(const test::TempDir& dir, const std::string& name, const std::string& bytes,
                     const std::string& expect) {
  const std::string path = dir.file(name);
  test::write_text(path, bytes);
  try {
    load_checkpoint(path);
    ADD_FAILURE() << name << ": loaded a bad checkpoint";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.file(), path);
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(expect), std::string::npos) << name << ": " << what;
  }
}

// plan's estimate of a run's saved models (run.save_models) adds these sizes.
TEST(Checkpoint, FileSizeIsKnownFromTheShape) {
  test::TempDir dir("checkpoint_size");
  Checkpoint ck = sample();
  for (const ModelShape shape : {ck.shape, ModelShape{1, 1, 4, 1}, ModelShape{2, 25, 64, 10}}) {
    ck.shape = shape;
    ck.params = init_params(shape, 7);
    save_checkpoint(dir.file("m.ckpt"), ck);
    EXPECT_EQ(std::filesystem::file_size(dir.file("m.ckpt")), checkpoint_file_size(shape)) << shape.str();
  }
}

TEST(Checkpoint, RoundTripIsExact) {
  test::TempDir dir("checkpoint_roundtrip");
  const Checkpoint ck = sample();
  const std::string path = dir.file("model.ckpt");
  save_checkpoint(path, ck);
  const Checkpoint back = load_checkpoint(path, ck.shape);
  EXPECT_EQ(back.shape, ck.shape);
  EXPECT_EQ(back.window, 17);
  EXPECT_EQ(back.version, LSTMAD_VERSION);
  ASSERT_EQ(back.params.size(), ck.params.size());
  EXPECT_EQ(0, std::memcmp(back.params.data(), ck.params.data(), ck.params.size() * sizeof(float)));
  EXPECT_TRUE(std::signbit(back.params[3]));
  // The atomic write leaves no temporary behind.
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  const std::string bytes = files::read(path);
  EXPECT_EQ(bytes.substr(0, 8), "LSTMADCK");
  EXPECT_EQ(bytes.size(),
            8 + 4 + 4 + std::string(LSTMAD_VERSION).size() + 5 * 4 + 8 + 64 + 4 * ck.params.size());
}

TEST(Checkpoint, EveryCorruptionIsADataErrorNamingTheFile) {
  test::TempDir dir("checkpoint_corrupt");
  const Checkpoint ck = sample();
  const std::string good_path = dir.file("good.ckpt");
  save_checkpoint(good_path, ck);
  const std::string good = files::read(good_path);
  const std::size_t params_at = good.size() - 4 * ck.params.size();

  std::string flipped = good;
  flipped[params_at + 4 * 7 + 1] ^= 0x10;  // one bit of parameter 7
  expect_rejected(dir, "flipped.ckpt", flipped, "checksum");

  std::string last = good;
  last.back() ^= 0x01;
  expect_rejected(dir, "last_byte.ckpt", last, "checksum");

  expect_rejected(dir, "truncated.ckpt", good.substr(0, good.size() - 3), "truncated");
  expect_rejected(dir, "header_only.ckpt", good.substr(0, 20), "truncated");
  expect_rejected(dir, "empty.ckpt", std::string(), "magic");
  expect_rejected(dir, "trailing.ckpt", good + "xy", "trailing");

  std::string magic = good;
  magic[0] = 'X';
  expect_rejected(dir, "magic.ckpt", magic, "magic");

  std::string format = good;
  format[8] = 9;
  expect_rejected(dir, "format.ckpt", format, "format version 9");

  // A consistent header with another shape: the parameter count no longer matches.
  std::string shape = good;
  const std::size_t shape_at = 8 + 4 + 4 + std::string(LSTMAD_VERSION).size();
  shape[shape_at + 8] = 6;  // hidden 5 -> 6
  expect_rejected(dir, "shape.ckpt", shape, "parameter count");

  std::string hash = good;
  hash[params_at - 1] = hash[params_at - 1] == 'a' ? 'b' : 'a';
  expect_rejected(dir, "hash.ckpt", hash, "checksum");

  // Header fields that the parameter count does not check: the window, and the writer's version.
  std::string window = good;
  window[shape_at + 16] ^= 0x04;  // window 17 -> 21
  expect_rejected(dir, "window.ckpt", window, "checksum");

  std::string version = good;
  version[16] ^= 0x01;  // the version string's first character
  expect_rejected(dir, "version.ckpt", version, "checksum");

  // Every single-byte change in the header, the checksum or the first parameters is rejected (the
  // parameter bytes are all summed alike; the flips above cover one in the middle and the last).
  for (std::size_t at = 0; at < params_at + 8; ++at) {
    std::string bad = good;
    bad[at] ^= 0x01;
    const std::string path = dir.file("byte.ckpt");
    test::write_text(path, bad);
    EXPECT_THROW(load_checkpoint(path), DataError) << "byte " << at << " of " << good.size();
  }
}

// Format 1 summed the parameter bytes alone; such files still load, with their window and version.
TEST(Checkpoint, FormatOneFilesStillLoad) {
  test::TempDir dir("checkpoint_format1");
  const Checkpoint ck = sample();
  save_checkpoint(dir.file("v2.ckpt"), ck);
  std::string bytes = files::read(dir.file("v2.ckpt"));
  const std::size_t params_at = bytes.size() - 4 * ck.params.size();
  bytes[8] = 1;
  bytes.replace(params_at - 64, 64, files::sha256(bytes.substr(params_at)));
  test::write_text(dir.file("v1.ckpt"), bytes);
  const Checkpoint back = load_checkpoint(dir.file("v1.ckpt"), ck.shape);
  EXPECT_EQ(back.window, 17);
  EXPECT_EQ(back.version, LSTMAD_VERSION);
  ASSERT_EQ(back.params.size(), ck.params.size());
  EXPECT_EQ(0, std::memcmp(back.params.data(), ck.params.data(), ck.params.size() * sizeof(float)));
}

TEST(Checkpoint, ShapeMismatchAgainstTheExpectedShape) {
  test::TempDir dir("checkpoint_shape");
  const Checkpoint ck = sample();
  const std::string path = dir.file("m.ckpt");
  save_checkpoint(path, ck);
  ModelShape other = ck.shape;
  other.hidden = 6;
  try {
    load_checkpoint(path, other);
    ADD_FAILURE() << "shape mismatch accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("H=5"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, SaveRejectsWrongParameterCountAndMissingFileIsIoError) {
  test::TempDir dir("checkpoint_save");
  Checkpoint ck = sample();
  ck.params.pop_back();
  EXPECT_THROW(save_checkpoint(dir.file("x.ckpt"), ck), Error);
  EXPECT_FALSE(files::exists(dir.file("x.ckpt")));
  // A window that load_checkpoint rejects is refused when saving, not written as a file no one can read.
  ck = sample();
  ck.window = -1;
  EXPECT_THROW(save_checkpoint(dir.file("w.ckpt"), ck), Error);
  EXPECT_FALSE(files::exists(dir.file("w.ckpt")));
  EXPECT_THROW(load_checkpoint(dir.file("missing.ckpt")), IoError);
}

}  // namespace
}  // namespace lstmad
