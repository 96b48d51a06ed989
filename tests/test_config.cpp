// The config schema: defaults, validation errors that name the JSON path, grid expansion, overrides,
// and docs/config.md kept equal to the generated reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <set>

#include "core/error.hpp"
#include "core/files.hpp"
#include "experiments/config.hpp"
#include "experiments/plan.hpp"
#include "lstm/engine.hpp"
#include "support/test_support.hpp"

using namespace lstmad;

namespace {
std::string error_of(const json& user) {
  try {
    resolve_config(user, "test.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
// What reading `text` as the config file dir/name throws ("" when it is accepted).
std::string file_error_of(const test::TempDir& dir, const std::string& name, const std::string& text) {
  test::write_text(dir.file(name), text);
  try {
    read_config_file(dir.file(name));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
// What `--set assignment` throws on `user` ("" when it is applied).
std::string override_error_of(json& user, const std::string& assignment) {
  try {
    apply_override(user, assignment);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, DefaultsFillEveryKey) {
  json r = resolve_config(json::object(), "empty.json");
  for (const auto& d : config_schema()) EXPECT_EQ(at_path(r, d.path), d.def) << d.path;
  EXPECT_EQ(at_path(r, "model.hidden").get<int>(), 64);
}

TEST(Config, UnknownKeyNamesItsPath) {
  std::string e = error_of(json{{"model", {{"hiden", 32}}}});
  EXPECT_NE(e.find("model.hiden: unknown key"), std::string::npos) << e;
}

// A section given as something else is a known key with the wrong type, not an unknown one.
TEST(Config, ASectionGivenAsAValueSaysASectionIsExpected) {
  for (const json& v : {json::array(), json(nullptr), json(3)}) {
    const std::string e = error_of(json{{"model", v}});
    EXPECT_NE(e.find("model: expected an object of the section's keys, got " + v.dump()), std::string::npos)
        << e;
  }
  const std::string e = error_of(json{{"detector", {{"likelihood", 5}}}});
  EXPECT_NE(e.find("detector.likelihood: expected an object of the section's keys, got 5"), std::string::npos)
      << e;
  EXPECT_EQ(error_of(json{{"model", json::object()}}), "");
}

// The run folder is run.out/<timestamp>-<run.name>: a name cannot lead out of run.out.
TEST(Config, RunNameIsOneFolderName) {
  for (const char* bad : {"../../outside", "a/b", "..", "a\\b"}) {
    const std::string e = error_of(json{{"run", {{"name", bad}}}});
    EXPECT_NE(e.find("run.name: expected a folder name without `/`"), std::string::npos) << bad << ": " << e;
  }
  EXPECT_EQ(error_of(json{{"run", {{"name", "nab-grid.v2"}}}}), "");
}

TEST(Config, EngineNameIsAKnownEngine) {
  const std::string e = error_of(json{{"engine", {{"name", "bogus"}}}});
  EXPECT_NE(e.find("engine.name: expected one of \"cpu\", \"cudnn\", \"fused\", got \"bogus\""),
            std::string::npos)
      << e;
  // Known but not built here: for the run to refuse, naming the build (lstm/registry.cpp).
  EXPECT_EQ(error_of(json{{"engine", {{"name", "fused"}}}}), "");
}

// A column, calendar input or series named twice in a list is a slip.
TEST(Config, AListOfNamesNamesEachOnce) {
  std::string e = error_of(json{{"data", {{"time_features", {"time_of_day", "time_of_day"}}}}});
  EXPECT_NE(
      e.find(
          "data.time_features: expected a list naming each value once, got [\"time_of_day\",\"time_of_day\"] "
          "(\"time_of_day\" twice)"),
      std::string::npos)
      << e;
  e = error_of(json{
      {"data", {{"format", "csv"}, {"root", "r"}, {"csv", {{"value_columns", {"value", "x", "value"}}}}}}});
  EXPECT_NE(e.find("data.csv.value_columns: expected a list naming each value once"), std::string::npos) << e;
  EXPECT_EQ(error_of(json{
                {"data", {{"format", "csv"}, {"root", "r"}, {"csv", {{"value_columns", {"value", "x"}}}}}}}),
            "");
}

TEST(Config, WrongTypeAndRangeNameExpectedAndGiven) {
  std::string e = error_of(json{{"train", {{"lr", "fast"}, {"epochs", 0}}}, {"engine", {{"precision", "fp8"}}}});
  EXPECT_NE(e.find("train.lr: expected a number"), std::string::npos) << e;
  EXPECT_NE(e.find("got \"fast\""), std::string::npos) << e;
  // An integer key's range reads as integers ([1, 100000], not [1.0, 100000.0]).
  EXPECT_NE(e.find("train.epochs: expected an integer in [1, 100000], got 0"), std::string::npos) << e;
  EXPECT_NE(e.find("engine.precision: expected one of"), std::string::npos) << e;
  EXPECT_NE(e.find("3 errors"), std::string::npos) << "every error is reported, not only the first: " << e;
  // An EWMA span between 0 and 1 would weigh the newest error by more than 1: 0 (off) or at least 1.
  e = error_of(json{{"detector", {{"ewma_span", 0.5}}}});
  EXPECT_NE(e.find("detector.ewma_span: expected 0 or a number in [1.0, 1000000.0]"), std::string::npos) << e;
  EXPECT_EQ(error_of(json{{"detector", {{"ewma_span", 0}}}}), "");
  EXPECT_EQ(error_of(json{{"detector", {{"ewma_span", 30}}}}), "");
}

TEST(Config, ListsAndGridExpandToSettings) {
  json user = {{"model", {{"hidden", {16, 32}}}}, {"grid", {{"train.lr", {0.1, 0.01, 0.001}}}}};
  json r = resolve_config(user, "grid.json");
  auto settings = expand_settings(r);
  ASSERT_EQ(settings.size(), 6u);
  EXPECT_EQ(grid_axes(r), (std::vector<std::string>{"model.hidden", "train.lr"}));
  EXPECT_EQ(at_path(settings[0], "model.hidden").get<int>(), 16);
  EXPECT_DOUBLE_EQ(at_path(settings[1], "train.lr").get<double>(), 0.01);
  EXPECT_EQ(at_path(settings[5], "model.hidden").get<int>(), 32);
}

TEST(Config, ListForNonGridKeyIsAnError) {
  std::string e = error_of(json{{"engine", {{"name", {"cpu", "cudnn"}}}}});
  EXPECT_NE(e.find("engine.name: expected a single string, got a list"), std::string::npos) << e;
}

TEST(Config, OverridesParseJsonOrStrings) {
  json user = json::object();
  apply_override(user, "model.hidden=32");
  apply_override(user, "engine.name=cpu");
  apply_override(user, "data.files=[\"a/*\"]");
  json r = resolve_config(user, "x");
  EXPECT_EQ(at_path(r, "model.hidden").get<int>(), 32);
  EXPECT_EQ(at_path(r, "engine.name").get<std::string>(), "cpu");
  EXPECT_EQ(at_path(r, "data.files")[0].get<std::string>(), "a/*");
  EXPECT_THROW(apply_override(user, "novalue"), ConfigError);
}

// An object given to a section merges into it key by key (the section's other keys stay as the config
// gives them); given to the grid, it is the whole grid, each axis leaving its section as grid.KEY does.
TEST(Config, AnObjectOverrideMergesIntoItsSectionAndIsTheWholeGrid) {
  json user = {{"model", {{"layers", 2}, {"hidden", 32}, {"window", 30}}},
               {"detector", {{"likelihood", {{"long_window", 300}, {"short_window", 5}}}}},
               {"grid", {{"train.lr", {0.001, 0.003}}}}};
  apply_override(user, R"(model={"hidden": 16})");
  apply_override(user, R"(detector={"likelihood": {"short_window": 7}})");
  apply_override(user, R"(grid={"model.window": [20, 40]})");
  json r = resolve_config(user, "x");
  EXPECT_EQ(at_path(r, "model.hidden").get<int>(), 16);
  EXPECT_EQ(at_path(r, "model.layers").get<int>(), 2);
  EXPECT_EQ(at_path(r, "detector.likelihood.long_window").get<int>(), 300);
  EXPECT_EQ(at_path(r, "detector.likelihood.short_window").get<int>(), 7);
  EXPECT_EQ(user["grid"], (json{{"model.window", {20, 40}}})) << user["grid"].dump();
  EXPECT_FALSE(user["model"].contains("window")) << "the grid's axis leaves its section";
  // A key that is no key of the section is named as one given alone would be.
  json bad = json::object();
  apply_override(bad, R"(model={"hiden": 16})");
  EXPECT_NE(error_of(bad).find("model.hiden: unknown key"), std::string::npos) << error_of(bad);
}

TEST(Config, MalformedJsonNamesFileLineAndColumn) {
  test::TempDir dir("config");
  const std::string e = file_error_of(dir, "bad.json", "{\n  \"model\": {\"hidden\": 32,,}\n}\n");
  EXPECT_NE(e.find("bad.json:2:"), std::string::npos) << e;
}

TEST(Config, RepeatedKeyInAFileNamesFileLineAndPath) {
  test::TempDir dir("config");
  // Parsed plainly, the second "model" replaces the first and hidden=8 is lost without a word.
  const std::vector<std::array<std::string, 3>> cases = {
      {"sections.json", "{\"model\": {\"hidden\": 8},\n \"model\": {\"window\": 5}}\n",
       ":2:2: model: key given twice in one object (first at line 1, column 2)"},
      {"keys.json", "{\"model\": {\"hidden\": 8,\n           \"hidden\": 16}}\n",
       ":2:12: model.hidden: key given twice in one object (first at line 1, column 12)"},
      {"nested.json", "{\"grid\": {\"train.lr\": [0.1], \"train.lr\": [0.2]}}\n",
       ":1:30: grid.train.lr: key given twice"}};
  for (const auto& [file, text, expected] : cases) {
    const std::string e = file_error_of(dir, file, text);
    EXPECT_NE(e.find(dir.file(file) + expected), std::string::npos) << file << ": " << e;
  }
}

TEST(Config, RepeatedKeyInASetObjectIsAnError) {
  json user = json::object();
  const std::string e = override_error_of(user, R"(model={"hidden": 8, "hidden": 16})");
  EXPECT_NE(e.find("model.hidden: key given twice in one object"), std::string::npos) << e;
  apply_override(user, R"(model={"hidden": 8, "window": 16})");
  EXPECT_EQ(user["model"]["window"], 16);
}

TEST(Config, NumberBeyondDoubleRangeIsAConfigErrorWithItsPath) {
  test::TempDir dir("config");
  std::string e = file_error_of(dir, "big.json", "{\"model\": {\"hidden\": 1e400}}");
  EXPECT_NE(e.find(dir.file("big.json") + ":1:22: model.hidden: expected a number within"), std::string::npos)
      << e;
  json user = json::object();
  e = override_error_of(user, "model.hidden=1e400");
  EXPECT_NE(e.find("--set model.hidden=1e400: model.hidden: expected a number within"), std::string::npos)
      << e;
}

TEST(Config, IntegralFloatsForIntegerKeysResolveAsIntegers) {
  // The setting id and the cell seeds hash the dumped values: 8.0 must resolve exactly as 8 does.
  const json as_int = resolve_config(
      json{{"model", {{"hidden", 8}, {"window", {5, 1000}}}}, {"ensemble", {{"model.layers", {1, 2}}}}}, "x");
  json user = json::parse(R"({"model": {"window": [5.0, 1e3]}, "ensemble": {"model.layers": [1.0, 2]}})");
  apply_override(user, "model.hidden=8.0");
  const json as_float = resolve_config(user, "x");
  EXPECT_EQ(as_float.dump(), as_int.dump());
  EXPECT_TRUE(at_path(as_float, "model.hidden").is_number_integer());
  const json as_grid =
      resolve_config(json::parse(R"({"model": {"hidden": 8e0}, "grid": {"model.window": [5.0, 1e3]},
                                                       "ensemble": {"model.layers": [1, 2.0]}})"),
                     "x");
  EXPECT_EQ(as_grid.dump(), as_int.dump());
  const Plan a = make_plan(as_int, {"a/x.csv"}), b = make_plan(as_float, {"a/x.csv"});
  ASSERT_EQ(a.cells.size(), 2u);
  ASSERT_EQ(b.cells.size(), 2u);
  for (size_t i = 0; i < a.cells.size(); ++i) {
    EXPECT_EQ(a.cells[i].id, b.cells[i].id);
    EXPECT_EQ(a.cells[i].seed, b.cells[i].seed);
    EXPECT_EQ(a.cells[i].member_seeds, b.cells[i].member_seeds);
  }
}

TEST(Config, IntegersForNumberKeysResolveAsFloats) {
  // The other way round: train.lr 1 (a JSON integer, or `--set train.lr=1`) is the setting that 1.0 is.
  json user =
      json::parse(R"({"train": {"lr": 1, "clip_norm": [2, 0.5]}, "ensemble": {"train.weight_decay": [0, 0.001]},
                             "detector": {"error_cap": 3}})");
  const json as_int = resolve_config(user, "x");
  json other =
      json::parse(R"({"train": {"clip_norm": [2.0, 0.5]}, "ensemble": {"train.weight_decay": [0.0, 0.001]},
                              "detector": {"error_cap": 3.0}})");
  apply_override(other, "train.lr=1.0");
  const json as_float = resolve_config(other, "x");
  EXPECT_EQ(as_int.dump(), as_float.dump());
  EXPECT_TRUE(at_path(as_int, "train.lr").is_number_float());
  const Plan a = make_plan(as_int, {"a/x.csv"}), b = make_plan(as_float, {"a/x.csv"});
  ASSERT_EQ(a.cells.size(), 2u);
  for (size_t i = 0; i < a.cells.size(); ++i) {
    EXPECT_EQ(a.cells[i].id, b.cells[i].id);
    EXPECT_EQ(a.cells[i].seed, b.cells[i].seed);
    EXPECT_EQ(a.cells[i].member_seeds, b.cells[i].member_seeds);
  }
}

TEST(Config, ARepeatedValueInAListIsAnError) {
  // Two equal values would be two settings (or ensemble members) with one id.
  json user = json::object();
  apply_override(user, "train.lr=[0.003, 3e-3]");
  const std::string e = error_of(user);
  EXPECT_NE(e.find("train.lr[1]: 0.003 repeats train.lr[0]; expected distinct values"), std::string::npos)
      << e;
  EXPECT_NE(error_of(json{{"grid", {{"model.hidden", {8, 16, 8.0}}}}})
                .find("grid.model.hidden[2]: 8.0 repeats "
                      "grid.model.hidden[0]"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"ensemble", {{"model.window", {30, 50, 30}}}}})
                .find("ensemble.model.window[2]: 30 repeats "
                      "ensemble.model.window[0]"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"detector", {{"likelihood", {{"log", {true, true}}}}}}})
                .find("detector.likelihood.log[1]: true repeats detector.likelihood.log[0]"),
            std::string::npos);
  EXPECT_EQ(error_of(json{{"train", {{"lr", {0.003, 0.0031}}}}}), "");
}

TEST(Config, SetReplacesAGridAxisAndAddressesItByItsDottedKey) {
  const json file = json::parse(R"({"grid": {"model.layers": [1, 2], "train.lr": [0.0003, 0.001]},
                                    "ensemble": {"model.window": [30, 50]}, "model": {"hidden": 8}})");
  // A scalar on the command line replaces the file's grid axis or ensemble key.
  json user = file;
  apply_override(user, "train.lr=0.003");
  apply_override(user, "model.window=40");
  json r = resolve_config(user, "grid.json");
  EXPECT_EQ(grid_axes(r), std::vector<std::string>{"model.layers"});
  EXPECT_DOUBLE_EQ(at_path(r, "train.lr").get<double>(), 0.003);
  EXPECT_EQ(at_path(r, "model.window"), 40);
  EXPECT_TRUE(r["ensemble"].empty()) << r["ensemble"];
  // grid.<key> and ensemble.<key> name the whole dotted key, and replace the key's section value.
  user = file;
  apply_override(user, "grid.train.lr=[0.01]");
  apply_override(user, "grid.model.hidden=[8, 16]");
  apply_override(user, "ensemble.model.layers=[1, 3]");
  r = resolve_config(user, "grid.json");
  EXPECT_EQ(at_path(r, "train.lr"), json::array({0.01}));
  EXPECT_EQ(at_path(r, "model.hidden"), json::array({8, 16}));
  EXPECT_EQ(at_path(r, "model.layers"), 2) << "the ensemble took model.layers from the grid";
  EXPECT_EQ(r["ensemble"], json::parse(R"({"model.layers": [1, 3], "model.window": [30, 50]})"));
  // An ensemble given in nested form is replaced as well.
  user = json::parse(R"({"ensemble": {"model": {"window": [30, 50]}}})");
  apply_override(user, "model.window=40");
  EXPECT_TRUE(resolve_config(user, "x")["ensemble"].empty());
}

// The name is a folder, the part of NAB's file names before `_`, and a Markdown table cell.
TEST(Config, DetectorNameIsAFolderAndAFileNamePrefix) {
  for (const char* bad : {"my_det", "a/b", "..", ".", "", "a|b", "x<i>", "two words", "a\\b"}) {
    const std::string e = error_of(json{{"detector", {{"name", bad}}}});
    EXPECT_NE(e.find("detector.name: expected a name of letters, digits"), std::string::npos)
        << bad << ": " << e;
  }
  for (const char* good : {"lstmad", "lstmad-h5x4", "lstm.v2", "a+b", "ARTime2"})
    EXPECT_EQ(error_of(json{{"detector", {{"name", good}}}}), "") << good;
}

// The config's table of each engine's precisions is the engines' own, for the engines this build has
// (each refuses the others when it is made); a config that asks for another is refused, naming an engine
// that computes in it.
TEST(Config, EnginePrecisionsAreTheEnginesOwn) {
  for (const auto& name : engine_names())
    for (Precision p : {Precision::FP32, Precision::FP64, Precision::TF32, Precision::BF16}) {
      EngineOptions o;
      o.name = name;
      o.precision = p;
      bool made = true;
      try {
        make_engine(o);
      } catch (const UnsupportedError&) {
        made = false;
      }
      const auto& own = engine_precisions(name);
      EXPECT_EQ(made, std::find(own.begin(), own.end(), to_string(p)) != own.end())
          << name << " " << to_string(p);
      EXPECT_EQ(error_of(json{{"engine", {{"name", name}, {"precision", to_string(p)}}}}).empty(), made)
          << name << " " << to_string(p);
    }
  EXPECT_NE(
      error_of(json{{"engine", {{"name", "cudnn"}, {"precision", "fp64"}}}})
          .find("engine.precision: the cudnn engine computes in fp32, tf32, got \"fp64\" (engine.name cpu "
                "computes in fp64)"),
      std::string::npos);
  EXPECT_NE(error_of(json{{"engine", {{"name", "cpu"}, {"precision", "bf16"}}}})
                .find("got \"bf16\" (engine.name fused computes in bf16)"),
            std::string::npos);
}

TEST(Config, EngineFallbackIsAnotherKnownEngine) {
  EXPECT_NE(error_of(json{{"engine", {{"name", "cpu"}, {"fallback", "cpu"}}}}).find("engine.fallback: \"cpu\" is engine.name itself"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"engine", {{"fallback", "gpu"}}}}).find("engine.fallback: expected one of"), std::string::npos);
  EXPECT_EQ(error_of(json{{"engine", {{"name", "fused"}, {"fallback", "cudnn"}}}}), "");
  EXPECT_EQ(at_path(resolve_config(json::object(), "x"), "engine.fallback"), "");
}

// A corpus with no default location needs data.root: validate says so, as run and plan do.
TEST(Config, CorporaWithoutADefaultLocationNeedARoot) {
  EXPECT_NE(
      error_of(json{{"data", {{"format", "csv"}}}}).find("data.root: a csv corpus has no default location"),
      std::string::npos);
  EXPECT_NE(
      error_of(json{{"data", {{"format", "nasa"}}}}).find("data.root: the NASA SMAP/MSL data has no default"),
      std::string::npos);
  EXPECT_NE(
      error_of(json{{"data", {{"format", "ucr"}}}}).find("data.root: the UCR anomaly archive has no default"),
      std::string::npos);
  for (const char* format : {"csv", "nasa", "ucr"})
    EXPECT_EQ(error_of(json{{"data", {{"format", format}, {"root", "/some/folder"}}}}), "") << format;
  for (const char* format : {"nab", "synthetic"})
    EXPECT_EQ(error_of(json{{"data", {{"format", format}}}}), "") << format;
}

TEST(Config, CsvColumnsOnlyWithTheCsvFormat) {
  const json labeled{{"format", "nab"}, {"csv", {{"label_column", "is_anomaly"}}}};
  EXPECT_NE(error_of(json{{"data", labeled}})
                .find("data.csv.label_column: read only with data.format \"csv\", and data.format is \"nab\""),
            std::string::npos);
  EXPECT_NE(error_of(json{{"data", {{"csv", {{"value_columns", {"a"}}}}}}}).find("data.csv.value_columns: read only"),
            std::string::npos)
      << "the default format is synthetic";
  EXPECT_NE(error_of(json{{"data", {{"csv", {{"label_windows", "nab"}}}}}}).find("data.csv.label_windows: read only"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"data", {{"format", "nab"}, {"csv", {{"anomaly_labels", {"Attack"}}}}}}})
                .find("data.csv.anomaly_labels: read only"),
            std::string::npos);
  // Both read the label column: without one they would change nothing.
  for (const char* key : {"anomaly_labels", "label_windows"}) {
    const json value = std::string(key) == "anomaly_labels" ? json::array({"Attack"}) : json("nab");
    EXPECT_NE(
        error_of(json{{"data", {{"format", "csv"}, {"root", "r"}, {"csv", {{key, value}}}}}})
            .find(std::string("data.csv.") + key + ": there is no data.csv.label_column to apply it to"),
        std::string::npos)
        << key;
    EXPECT_EQ(
        error_of(json{
            {"data", {{"format", "csv"}, {"root", "r"}, {"csv", {{key, value}, {"label_column", "y"}}}}}}),
        "")
        << key;
  }
  EXPECT_NE(error_of(json{{"data", {{"format", "csv"}, {"root", "r"}, {"csv", {{"label_windows", "wide"}}}}}})
                .find("data.csv.label_windows: expected one of"),
            std::string::npos);
  EXPECT_EQ(error_of(json{{"data",
                           {{"format", "csv"},
                            {"root", "r"},
                            {"csv", {{"label_column", "is_anomaly"}, {"time_column", ""}}}}}}),
            "");
  EXPECT_EQ(error_of(json{{"data", {{"format", "nab"}, {"csv", {{"time_column", "timestamp"}}}}}}), "")
      << "the default value is no mistake";
  EXPECT_NE(error_of(json{{"data", {{"format", "nab"}, {"csv", {{"time_format", "%Y%m%d"}}}}}})
                .find("data.csv.time_format: read only"),
            std::string::npos);
}

// validate lists every error at once: the rules between keys run beside the keys' own errors, but not on
// a key that has an error of its own (its value is not the one given).
TEST(Config, RulesBetweenKeysRunBesideTheKeysOwnErrors) {
  const std::string both =
      error_of(json{{"model", {{"hidden", 0}}},
                    {"data", {{"format", "csv"}, {"root", "r"}, {"csv", {{"label_windows", "nab"}}}}}});
  EXPECT_NE(both.find("2 errors"), std::string::npos) << both;
  EXPECT_NE(both.find("model.hidden: expected an integer"), std::string::npos) << both;
  EXPECT_NE(both.find("data.csv.label_windows: there is no data.csv.label_column"), std::string::npos)
      << both;
  // engine.name's own error: its precision rule is not judged against the default engine.
  const std::string engine = error_of(json{{"engine", {{"name", "gpu"}, {"precision", "tf32"}}}});
  EXPECT_NE(engine.find("1 error"), std::string::npos) << engine;
  EXPECT_EQ(engine.find("engine.precision"), std::string::npos) << engine;
  // A section that is no object: the rules over its keys wait for it.
  const std::string section = error_of(json{{"data", {{"format", "csv"}, {"root", "r"}, {"csv", 3}}}});
  EXPECT_NE(section.find("1 error"), std::string::npos) << section;
  // Nor does a grid axis with an error of its own count as given.
  const std::string grid = error_of(json{{"grid", {{"engine.name", {"cpu", "gpu"}}}}});
  EXPECT_EQ(grid.find("engine.precision"), std::string::npos) << grid;
  // But a grid or ensemble entry's error leaves the value its section gives to the rules.
  const std::string ensemble = error_of(
      json{{"engine", {{"name", "cpu"}, {"precision", "tf32"}}}, {"ensemble", {{"engine.name", {"cpu"}}}}});
  EXPECT_NE(ensemble.find("2 errors"), std::string::npos) << ensemble;
  EXPECT_NE(ensemble.find("engine.precision: the cpu engine computes in"), std::string::npos) << ensemble;
  const std::string named =
      error_of(json{{"detector", {{"name", "my_det"}}}, {"grid", {{"detector.name", {"a", "b"}}}}});
  EXPECT_NE(named.find("detector.name: expected a name of letters"), std::string::npos) << named;
}

// The label or time column listed as a value column would fail every file of the corpus: a config error.
TEST(Config, AValueColumnIsNeitherTheLabelNorTheTime) {
  const auto with = [](json csv) {
    csv["label_column"] = "is_anomaly";
    return error_of(json{{"data", {{"format", "csv"}, {"root", "r"}, {"csv", csv}}}});
  };
  EXPECT_EQ(with(json{{"value_columns", {"value", "other"}}}), "");
  EXPECT_NE(with(json{{"value_columns", {"value", "is_anomaly"}}})
                .find("data.csv.value_columns: \"is_anomaly\" is data.csv.label_column"),
            std::string::npos);
  EXPECT_NE(with(json{{"value_columns", {"timestamp"}}})
                .find("data.csv.value_columns: \"timestamp\" is data.csv.time_column"),
            std::string::npos);
  EXPECT_EQ(with(json{{"value_columns", {"timestamp"}}, {"time_column", ""}}), "")
      << "without a time column, a column of that name is a value like any other";
  // The time column's rule does not wait for the label column's own error.
  const std::string both =
      error_of(json{{"data",
                     {{"format", "csv"},
                      {"root", "r"},
                      {"csv", {{"label_column", 5}, {"value_columns", {"timestamp"}}}}}}});
  EXPECT_NE(both.find("data.csv.label_column: expected"), std::string::npos) << both;
  EXPECT_NE(both.find("\"timestamp\" is data.csv.time_column"), std::string::npos) << both;
}

TEST(Config, CsvTimeFormatIsCheckedUpFront) {
  EXPECT_EQ(error_of(json{
                {"data", {{"format", "csv"}, {"root", "r"}, {"csv", {{"time_format", "%d/%m/%Y %H:%M"}}}}}}),
            "");
  EXPECT_EQ(
      error_of(json{{"data", {{"format", "csv"}, {"root", "r"}, {"csv", {{"time_format", "epoch_ms"}}}}}}),
      "");
  const std::string e =
      error_of(json{{"data", {{"format", "csv"}, {"root", "r"}, {"csv", {{"time_format", "%Y-%b"}}}}}});
  EXPECT_NE(e.find("data.csv.time_format: \"%Y-%b\" is not \"auto\", \"epoch_s\", \"epoch_ms\" or a pattern: "
                   "unknown directive %b"),
            std::string::npos)
      << e;
}

TEST(Config, DocsConfigMdMatchesSchema) {
  std::string docs = files::read(std::string(LSTMAD_SOURCE_DIR) + "/docs/config.md");
  EXPECT_EQ(docs, config_reference_markdown())
      << "docs/config.md is out of date: regenerate it with `lstmad config-reference > docs/config.md`";
}

// Each shipped config validates as the README runs it: with --set data.root=PATH where its corpus has
// no default location (and without it, validate asks for that path).
TEST(Config, EveryShippedConfigValidates) {
  int count = 0, rooted = 0;
  for (const auto& f : std::filesystem::directory_iterator(std::string(LSTMAD_SOURCE_DIR) + "/configs")) {
    if (f.path().extension() != ".json") continue;
    json cfg = read_config_file(f.path().string());
    const std::string format = cfg.contains("data") ? cfg["data"].value("format", "synthetic") : "synthetic";
    if (!root_requirement(format).empty() && cfg["data"].value("root", "").empty()) {
      EXPECT_NE(error_of(cfg).find("data.root: "), std::string::npos) << f.path();
      apply_override(cfg, "data.root=/the/corpus");
      ++rooted;
    }
    EXPECT_NO_THROW(resolve_config(cfg, f.path().string())) << f.path();
    ++count;
  }
  EXPECT_GE(count, 2);
  EXPECT_GE(rooted, 2) << "configs/ucr.json and configs/smap_msl.json name no root";
}

TEST(Plan, CellIdsAndSeedsDependOnIdentityNotOrder) {
  json r = resolve_config(json{{"model", {{"hidden", {16, 32}}}}}, "x");
  Plan a = make_plan(r, {"a/x.csv", "b/y.csv"});
  Plan b = make_plan(r, {"b/y.csv", "a/x.csv"});
  ASSERT_EQ(a.cells.size(), 4u);
  for (const auto& ca : a.cells)
    for (const auto& cb : b.cells)
      if (ca.series == cb.series && ca.setting == cb.setting) {
        EXPECT_EQ(ca.id, cb.id);
        EXPECT_EQ(ca.seed, cb.seed);
      }
  EXPECT_NE(a.cells[0].seed, a.cells[1].seed);
  EXPECT_NE(a.settings[0].detector, a.settings[1].detector);
  EXPECT_EQ(a.settings[0].detector.find('_'), std::string::npos);
  // A different run seed changes every cell's seed.
  json r2 = resolve_config(json{{"model", {{"hidden", {16, 32}}}}, {"run", {{"seed", 7}}}}, "x");
  EXPECT_NE(make_plan(r2, {"a/x.csv"}).cells[0].seed, a.cells[0].seed);
}

// Setting ids are eight hex digits of a hash: seeds 79988 and 129050 of an otherwise default config hash
// to the same ones. The later setting takes another id, so neither's cells are lost, and the earlier keeps
// the id a run of it alone has (its finished cells stay its own).
TEST(Plan, SettingsWhoseIdsCollideGetDistinctIds) {
  json r = resolve_config(json{{"run", {{"seed", {79988, 129050}}}}}, "x");
  const std::vector<json> values = expand_settings(r);
  ASSERT_EQ(values.size(), 2u);
  const std::string h0 = hash_hex(setting_identity(values[0]).dump(), 8),
                    h1 = hash_hex(setting_identity(values[1]).dump(), 8);
  ASSERT_EQ(h0, h1) << "the two seeds' identities no longer collide; find another pair";
  const Plan p = make_plan(r, {"a/x.csv", "b/y.csv"});
  ASSERT_EQ(p.settings.size(), 2u);
  EXPECT_EQ(p.settings[0].id, h0);
  EXPECT_NE(p.settings[1].id, p.settings[0].id);
  std::set<std::string> cells, names;
  for (const auto& c : p.cells) cells.insert(c.id);
  for (const auto& s : p.settings) names.insert(s.detector);
  EXPECT_EQ(cells.size(), 4u);
  EXPECT_EQ(names.size(), 2u);
  // The same setting alone keeps its id.
  EXPECT_EQ(make_plan(resolve_config(json{{"run", {{"seed", 79988}}}}, "x"), {"a/x.csv"}).settings[0].id, h0);
}

TEST(Plan, SettingsDifferingOnlyInTheDetectorShareTheirModelsSeeds) {
  json r = resolve_config(json{{"detector", {{"suppress", {0.0, 0.05}}}}, {"model", {{"hidden", {8, 16}}}}}, "x");
  Plan p = make_plan(r, {"a/x.csv"});
  ASSERT_EQ(p.cells.size(), 4u);
  // Order: model.hidden axis first, then detector.suppress (schema order, last fastest).
  EXPECT_EQ(p.cells[0].seed, p.cells[1].seed) << "same model, other detector";
  EXPECT_NE(p.cells[0].id, p.cells[1].id) << "but distinct cells";
  EXPECT_NE(p.cells[0].seed, p.cells[2].seed) << "another model";
}

TEST(Config, EnsembleListsResolveAndExpandToMembers) {
  json r = resolve_config(json{{"ensemble", {{"model.window", {30, 50}}, {"model", {{"horizon", {1, 5}}}}}}}, "x");
  EXPECT_EQ(r["ensemble"], (json{{"model.window", {30, 50}}, {"model.horizon", {1, 5}}}));
  EXPECT_EQ(expand_settings(r).size(), 1u) << "an ensemble is one setting";
  auto members = ensemble_members(expand_settings(r)[0]);
  ASSERT_EQ(members.size(), 4u);
  // Schema order (model.window before model.horizon), the last key fastest.
  EXPECT_EQ(at_path(members[0], "model.window"), 30);
  EXPECT_EQ(at_path(members[0], "model.horizon"), 1);
  EXPECT_EQ(at_path(members[1], "model.window"), 30);
  EXPECT_EQ(at_path(members[1], "model.horizon"), 5);
  EXPECT_EQ(at_path(members[3], "model.window"), 50);
  for (const auto& m : members) EXPECT_TRUE(m["ensemble"].empty());
  // No ensemble: the setting is its only member.
  json plain = resolve_config(json::object(), "x");
  ASSERT_EQ(ensemble_members(plain).size(), 1u);
  EXPECT_EQ(ensemble_members(plain)[0], plain);
}

// With retraining on, a member whose train.retrain_rows (above 0) is below its model.horizon cannot run:
// the reason names both keys and their values, and a setting has it when any of its members has it.
TEST(Config, RetrainRowsBelowTheHorizonIsAProblemOfTheMemberAndItsSetting) {
  const std::string why =
      "train.retrain_rows 3 is fewer than model.horizon 5: no window has all its targets "
      "in the latest rows, so fine-tuning would never run (0 = the training part's length)";
  auto setting = [](const json& user) { return expand_settings(resolve_config(user, "x")).at(0); };
  const json retrain = {{"retrain_every", 100}, {"retrain_rows", 3}};
  EXPECT_EQ(member_problem(setting({{"model", {{"horizon", 5}}}, {"train", retrain}})), why);
  EXPECT_EQ(setting_problem(setting({{"model", {{"horizon", 5}}}, {"train", retrain}})), why);
  EXPECT_EQ(member_problem(setting({{"model", {{"horizon", 3}}}, {"train", retrain}})), "") << "one window";
  EXPECT_EQ(member_problem(setting({{"model", {{"horizon", 5}}}, {"train", {{"retrain_rows", 3}}}})), "")
      << "no retraining";
  EXPECT_EQ(member_problem(setting({{"model", {{"horizon", 5}}}, {"train", {{"retrain_every", 100}}}})), "")
      << "retrain_rows 0: the training part's length";
  // An ensemble over the horizon: only the horizon-5 member cannot run, and so neither can the setting.
  const json ens = setting({{"train", retrain}, {"ensemble", {{"model.horizon", {1, 5}}}}});
  const auto members = ensemble_members(ens);
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(member_problem(members[0]), "");
  EXPECT_EQ(member_problem(members[1]), why);
  EXPECT_EQ(setting_problem(ens), why);
  EXPECT_EQ(setting_problem(setting({{"train", retrain}, {"ensemble", {{"model.horizon", {1, 3}}}}})), "");
}

// detector.suppress (a fraction of the series) and detector.suppress_rows (rows) both set the span silenced
// after an alarm: a setting with both above 0 cannot run, and the reason names both keys.
TEST(Config, SuppressAndSuppressRowsTogetherAreAProblem) {
  auto setting = [](const json& user) { return expand_settings(resolve_config(user, "x")).at(0); };
  EXPECT_EQ(setting_problem(setting({{"detector", {{"suppress", 0.05}, {"suppress_rows", 40}}}})),
            "detector.suppress 0.05 and detector.suppress_rows 40 both set the span silenced after an alarm: "
            "set one of them, the other 0");
  EXPECT_EQ(setting_problem(setting({{"detector", {{"suppress", 0.05}}}})), "");
  EXPECT_EQ(setting_problem(setting({{"detector", {{"suppress_rows", 40}}}})), "");
}

TEST(Config, ADynamicThresholdWithoutAZToTryIsAProblem) {
  auto setting = [](const json& user) { return expand_settings(resolve_config(user, "x")).at(0); };
  EXPECT_EQ(
      setting_problem(setting(
          {{"detector", {{"score", "dynamic_threshold"}, {"ndt", {{"z_min", 8.0}, {"z_max", 2.0}}}}}})),
      "detector.ndt.z_min 8.0 is above detector.ndt.z_max 2.0: the dynamic threshold would have no z to try");
  // Another score rule does not read them.
  EXPECT_EQ(setting_problem(setting({{"detector", {{"ndt", {{"z_min", 8.0}, {"z_max", 2.0}}}}}})), "");
  EXPECT_EQ(setting_problem(setting({{"detector", {{"ndt", {{"z_min", 2.0}, {"z_max", 2.0}}}}}})), "");
}

TEST(Config, BadEnsembleKeysNameTheirPath) {
  auto message = [](const json& user) {
    try {
      resolve_config(user, "cfg.json");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(json{{"ensemble", {{"model.windw", {30}}}}}).find("ensemble.model.windw: unknown key"), std::string::npos);
  EXPECT_NE(message(json{{"ensemble", {{"detector.suppress", {0.0, 0.01}}}}}).find("ensemble.detector.suppress: an ensemble varies"),
            std::string::npos);
  EXPECT_NE(message(json{{"ensemble", {{"model.window", 30}}}}).find("ensemble.model.window: expected a non-empty list"),
            std::string::npos);
  EXPECT_NE(message(json{{"ensemble", {{"model.window", {30, -1}}}}}).find("ensemble.model.window[1]: expected an integer"),
            std::string::npos);
  EXPECT_NE(message(json{{"ensemble", {{"model.window", {30, 50}}}}, {"model", {{"window", {20, 40}}}}})
                .find("ensemble.model.window: also a grid axis"),
            std::string::npos);
  EXPECT_NE(message(json{{"ensemble", {{"model.window", {30, 50}}}}, {"grid", {{"model.window", {20, 40}}}}})
                .find("ensemble.model.window: also a grid axis"),
            std::string::npos);
  EXPECT_NE(message(json{{"ensemble", json::array()}}).find("ensemble: expected an object"), std::string::npos);
}

TEST(Plan, EnsembleMembersTakeTheSeedsOfTheirSingleModelRuns) {
  const std::vector<std::string> series{"a/x.csv", "b/y.csv"};
  json ens = resolve_config(json{{"ensemble", {{"model.window", {30, 50}}}}, {"model", {{"horizon", 5}}}}, "x");
  Plan p = make_plan(ens, series);
  ASSERT_EQ(p.cells.size(), 2u);
  for (const Cell& c : p.cells) {
    ASSERT_EQ(c.member_seeds.size(), 2u);
    int k = 0;
    for (int window : {30, 50}) {
      json single = resolve_config(json{{"model", {{"horizon", 5}, {"window", window}}}}, "x");
      const Plan q = make_plan(single, series);
      for (const Cell& d : q.cells)
        if (d.series == c.series) {
          EXPECT_EQ(c.member_seeds[static_cast<size_t>(k)], d.seed) << c.series << " T=" << window;
          ASSERT_EQ(d.member_seeds.size(), 1u);
          EXPECT_EQ(d.member_seeds[0], d.seed);
        }
      ++k;
    }
    EXPECT_NE(c.member_seeds[0], c.member_seeds[1]);
  }
  // The ensemble is part of the setting's identity; a single-model setting's id does not mention it.
  json plain = resolve_config(json{{"model", {{"horizon", 5}}}}, "x");
  EXPECT_NE(make_plan(plain, series).settings[0].id, p.settings[0].id);
  EXPECT_FALSE(setting_identity(plain).contains("ensemble"));
  EXPECT_EQ(model_identity(p.settings[0].values)["ensemble"], ens["ensemble"]);
}

TEST(Config, EnsembleSeedsReplicateEveryCombinationWithItsOwnValidSeed) {
  json r = resolve_config(json{{"ensemble", {{"model.window", {30, 50}}, {"seeds", 3}}}, {"run", {{"seed", 7}}}}, "x");
  auto members = ensemble_members(r);
  ASSERT_EQ(members.size(), 6u);
  std::set<uint64_t> seeds;
  for (size_t i = 0; i < members.size(); ++i) {
    EXPECT_EQ(at_path(members[i], "model.window"), i < 3 ? 30 : 50);
    const uint64_t s = at_path(members[i], "run.seed").get<uint64_t>();
    if (i % 3 == 0) {
      EXPECT_EQ(s, 7u) << "the first replica keeps the run seed";
    }
    seeds.insert(s);
    // The replica's seed is a seed a single-model run accepts.
    EXPECT_NO_THROW(resolve_config(json{{"run", {{"seed", s}}}}, "x"));
  }
  EXPECT_EQ(seeds.size(), 3u) << "replicas of both windows share their three seeds";
  // Another run seed gives other replicas.
  json r2 = resolve_config(json{{"ensemble", {{"seeds", 2}}}, {"run", {{"seed", 8}}}}, "x");
  EXPECT_EQ(seeds.count(at_path(ensemble_members(r2)[1], "run.seed").get<uint64_t>()), 0u);
  try {
    resolve_config(json{{"ensemble", {{"seeds", 0}}}}, "cfg.json");
    ADD_FAILURE() << "seeds 0 accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("ensemble.seeds: expected an integer in [1, 1000]"), std::string::npos) << e.what();
  }
}

// A key in a section is written nested: a dotted one ({"model.hidden": 32}) names the same key as its
// nested spelling, and one of the two would be taken without a word (and a --set, which writes the
// nested one, could lose to it). The ensemble takes both forms, but not one key in both; a --set path
// with an empty part would replace its whole section.
TEST(Config, DottedKeysInSectionsAndRepeatedEnsembleKeysAreRefused) {
  EXPECT_NE(error_of(json::parse(R"({"model": {"hidden": 16}, "model.hidden": 32})"))
                .find("model.hidden: a key holding a '.'; write sections nested"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"detector": {"likelihood.long_window": 500}})"))
                .find("detector.likelihood.long_window: a key holding a '.'"),
            std::string::npos);
  EXPECT_NE(error_of(json::parse(R"({"model": {"": 1}})")).find("model.: a key that is empty"),
            std::string::npos);
  const std::string twice =
      error_of(json::parse(R"({"ensemble": {"model.window": [30, 50], "model": {"window": [40, 60]}}})"));
  EXPECT_NE(twice.find("ensemble.model.window: given twice (nested and dotted)"), std::string::npos) << twice;
  // Each spelling alone is still the ensemble's.
  EXPECT_EQ(error_of(json::parse(R"({"ensemble": {"model": {"window": [40, 60]}}})")), "");
  EXPECT_EQ(
      error_of(json::parse(R"({"ensemble": {"model.window": [40, 60]}, "grid": {"model.hidden": [8, 16]}})")),
      "");
  json user = json::parse(R"({"model": {"layers": 1, "window": 40}})");
  for (const char* bad : {"model.={\"hidden\": 8}", ".model.hidden=8", "model..hidden=8"})
    EXPECT_NE(override_error_of(user, bad).find("an empty part in the path"), std::string::npos) << bad;
  EXPECT_EQ(user, json::parse(R"({"model": {"layers": 1, "window": 40}})"));
  // A path into a value (a list's element, a number's part) is named as such, not as a type error of
  // the object it would have made.
  for (const auto& [bad, named] : std::vector<std::pair<std::string, std::string>>{
           {"model.window.0=30",
            "model.window is a value, not a section: --set gives a whole value, e.g. "
            "--set model.window=VALUE"},
           {"data.files.0=a.csv", "data.files is a value, not a section"},
           {"grid.model.hidden.x=[8]", "e.g. --set grid.model.hidden=VALUE"},
           {"ensemble.model.window.1=50", "e.g. --set ensemble.model.window=VALUE"}})
    EXPECT_NE(override_error_of(user, bad).find(named), std::string::npos) << bad;
  EXPECT_EQ(user, json::parse(R"({"model": {"layers": 1, "window": 40}})"));
}

// A config file nested past any real config is refused at the byte where it goes too deep, rather than
// walked level by level to the end of the stack.
TEST(Config, NestingTooDeepIsRefusedWhereItStarts) {
  test::TempDir tmp("config-deep");
  const std::string deep =
      "{\"model\": {\"hidden\": " + std::string(100000, '[') + "1" + std::string(100000, ']') + "}}";
  const std::string e = file_error_of(tmp, "deep.json", deep);
  EXPECT_NE(e.find("deep.json:1:"), std::string::npos) << e.substr(0, 300);
  EXPECT_NE(e.find("nested deeper than 64 levels"), std::string::npos) << e.substr(0, 300);
  // Brackets inside strings are text, not nesting.
  EXPECT_EQ(file_error_of(tmp, "text.json", "{\"run\": {\"name\": \"" + std::string(200, '[') + "\"}}"), "");
}

// Keys set to change nothing are said: a grid over one is seed noise dressed as its effect. The
// dynamic threshold's z range is checked only where that rule scores.
TEST(Plan, KeysThatChangeNothingAreNamedWithTheReason) {
  const Plan p = make_plan(
      resolve_config(
          json::parse(R"({"train": {"purge": [false, true], "retrain_every": 0, "retrain_epochs": 3},
                                     "detector": {"ndt": {"window": 100, "z_min": 20}}})"),
          "x"),
      {});
  const std::vector<std::string> w = inactive_key_warnings(p);
  const auto said = [&](const std::string& text) {
    return std::any_of(w.begin(), w.end(),
                       [&](const std::string& line) { return line.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(
      said("grid axis train.purge changes nothing in the 1 setting(s) that set it (model.horizon is 1"));
  EXPECT_TRUE(said("train.retrain_epochs is set but changes nothing (train.retrain_every is 0"));
  EXPECT_TRUE(
      said("detector.ndt.window is set but changes nothing (read by detector.score dynamic_threshold only"));
  EXPECT_FALSE(said("train.retrain_every is set")) << "retrain_every 0 is what makes the others inactive";
  for (const auto& s : p.settings) EXPECT_EQ(setting_problem(s.values), "");
  // Where the dynamic threshold scores, its options act and its z range is checked.
  const Plan q = make_plan(
      resolve_config(
          json::parse(R"({"detector": {"score": "dynamic_threshold", "ndt": {"window": 100, "z_min": 20}}})"),
          "x"),
      {});
  EXPECT_TRUE(inactive_key_warnings(q).empty());
  // A data key of another format.
  const std::vector<std::string> data_keys = inactive_key_warnings(
      make_plan(resolve_config(json::parse(R"({"data": {"windows_file": "labels/other.json",
                                                        "nasa": {"spacecraft": "MSL"}}})"),
                               "x"),
                {}));
  ASSERT_EQ(data_keys.size(), 2u);
  EXPECT_NE(
      data_keys[0].find("data.windows_file is set but changes nothing (read with data.format nab only, and "
                        "this is synthetic)"),
      std::string::npos);
  EXPECT_NE(data_keys[1].find("data.nasa.spacecraft is set but changes nothing"), std::string::npos);
  // A key inactive in some settings only says in how many; a threshold no score reaches is said.
  const std::vector<std::string> some = inactive_key_warnings(make_plan(
      resolve_config(
          json::parse(R"({"train": {"val_fraction": [0, 0.2], "patience": 3}, "eval": {"threshold": 2}})"),
          "x"),
      {}));
  ASSERT_EQ(some.size(), 2u);
  EXPECT_NE(
      some[0].find("train.patience is set but changes nothing in 1 of 2 settings (train.val_fraction is 0"),
      std::string::npos)
      << some[0];
  EXPECT_NE(some[1].find("eval.threshold is set but changes nothing (scores lie in [0, 1]"),
            std::string::npos)
      << some[1];
  EXPECT_NE(setting_problem(q.settings[0].values).find("detector.ndt.z_min 20.0 is above detector.ndt.z_max"),
            std::string::npos);
}

// What a slip usually meant is said: the nearest key, the key of that name in another section, the key
// an object was given in place of; a grid without brackets, a number without its leading 0, a string
// JSON read as a number; text that is not UTF-8. A grid past 100,000 settings is refused before any is
// made; an ensemble's seeds count may be written 2.0 as any integer.
TEST(Config, SlipsAreNamedWithWhatWasMeant) {
  const auto error_with = [](const std::string& assignment) {
    json user = json::object();
    apply_override(user, assignment);
    return error_of(user);
  };
  EXPECT_NE(error_with("model.hiden=8").find("model.hiden: unknown key; did you mean model.hidden?"),
            std::string::npos);
  EXPECT_NE(error_with("train.window=8")
                .find("train.window: unknown key; keys of that name: model.window, "
                      "detector.ndt.window"),
            std::string::npos);
  EXPECT_NE(
      error_with("grid.train.lrr=[0.1,0.2]").find("grid.train.lrr: unknown key; did you mean train.lr?"),
      std::string::npos);
  EXPECT_NE(error_with("model.hidden={\"x\": 1}").find("model.hidden: expected an integer, got an object"),
            std::string::npos);
  EXPECT_NE(error_with("model.hidden=16,32").find("(a grid is a JSON list: --set 'model.hidden=[16,32]')"),
            std::string::npos);
  EXPECT_NE(error_with("detector.score=error, likelihood")
                .find("(a grid is a JSON list: --set 'detector.score=[\"error\",\"likelihood\"]')"),
            std::string::npos);
  EXPECT_NE(error_with("train.lr=.001").find("(JSON numbers need the leading 0: 0.001)"), std::string::npos);
  // A decimal comma (a German or French locale's 0,5) is named first: the grid [0,003] is no JSON, and
  // [0,1] would run 0 and 1 where 0.1 was meant.
  const std::string comma = error_with("train.lr=0,003");
  EXPECT_NE(comma.find("(JSON numbers take a decimal point: --set 'train.lr=0.003')"), std::string::npos)
      << comma;
  EXPECT_EQ(comma.find("grid"), std::string::npos) << comma;
  const std::string either = error_with("detector.spatial_margin=0,1");
  EXPECT_NE(
      either.find("(JSON numbers take a decimal point: --set 'detector.spatial_margin=0.1'; a grid is a "
                  "JSON list: --set 'detector.spatial_margin=[0,1]')"),
      std::string::npos)
      << either;
  // Three digits after the comma may be a thousands separator: both readings; a leading zero is no JSON.
  const std::string seconds = error_with("run.max_train_seconds=3,600");
  EXPECT_NE(seconds.find("(JSON numbers take a decimal point: --set 'run.max_train_seconds=3.600', or no "
                         "thousands separator: --set 'run.max_train_seconds=3600')"),
            std::string::npos)
      << seconds;
  EXPECT_EQ(error_with("train.lr=01,5").find("01.5"), std::string::npos);
  EXPECT_NE(error_with("model.hidden=1,5").find("(a grid is a JSON list: --set 'model.hidden=[1,5]')"),
            std::string::npos);
  EXPECT_NE(error_with("run.name=123").find("(quote it for the shell and JSON: --set 'run.name=\"123\"')"),
            std::string::npos);
  const std::string choice = error_with("engine.precision=16");
  EXPECT_NE(choice.find("engine.precision: expected one of \"fp32\", \"fp64\", \"tf32\", \"bf16\", got 16"),
            std::string::npos)
      << choice;
  EXPECT_EQ(choice.find("quote it"), std::string::npos) << "\"16\" is no choice either: " << choice;
  // The ensemble takes a key nested or dotted: a --set of it replaces the file's, whichever spelling.
  json nested = json::parse(R"({"ensemble": {"model": {"window": [20, 30]}}})");
  apply_override(nested, "ensemble.model.window=[40,50]");
  EXPECT_EQ(resolve_config(nested, "x").at("ensemble").at("model.window"), json::parse("[40, 50]"));
  EXPECT_NE(error_with("run.name=a\xff"
                       "b")
                .find("run.name: expected UTF-8 text"),
            std::string::npos);
  EXPECT_NE(error_with("detector.name=a\xff"
                       "b")
                .find("detector.name: expected UTF-8 text"),
            std::string::npos);
  const std::string big = error_of(json::parse(R"({"model": {"hidden": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                                         "window": [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
                                         "layers": [1, 2, 3, 4, 5, 6, 7, 8]},
                               "train": {"lr": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
                                         "epochs": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "batch": [16, 32]}})"));
  EXPECT_NE(big.find("grid: 176000 settings from the axes "), std::string::npos) << big;
  EXPECT_NE(big.find("more than the 100000 one run takes"), std::string::npos) << big;
  EXPECT_EQ(error_of(json::parse(R"({"ensemble": {"model.window": [30, 50], "seeds": 2.0}})")), "");
  EXPECT_EQ(resolve_config(json::parse(R"({"ensemble": {"model.window": [30, 50], "seeds": 2.0}})"), "x")
                .at("ensemble")
                .at("seeds")
                .dump(),
            "2");
  // A section's value that every ensemble member replaces changes nothing: said.
  const Plan p =
      make_plan(resolve_config(
                    json::parse(R"({"model": {"window": 60}, "ensemble": {"model.window": [30, 50]}})"), "x"),
                {});
  const std::vector<std::string> w = inactive_key_warnings(p);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("model.window is set but changes nothing (every ensemble member takes its own from "
                      "ensemble.model.window)"),
            std::string::npos);
}

// A rescore reopened, or shards merged, on machines of other memory: only run.series_memory_mb may differ.
TEST(Config, ConfigsThatDifferInTheirMemoryBudgetAloneCompareEqual) {
  const json a = resolve_config(json{{"run", {{"series_memory_mb", 100}}}}, "a");
  const json b = resolve_config(json{{"run", {{"series_memory_mb", 7}}}}, "b");
  const json c = resolve_config(json{{"run", {{"series_memory_mb", 7}, {"batch_models", 3}}}}, "c");
  EXPECT_NE(a, b);
  EXPECT_EQ(without_memory_keys(a), without_memory_keys(b));
  EXPECT_NE(without_memory_keys(b), without_memory_keys(c));
  EXPECT_TRUE(without_memory_keys(a).at("run").contains("seed"));
}
