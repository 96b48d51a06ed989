// The `lstmad` command line: subcommands run, merge, rescore, validate, plan, table, report,
// config-reference, info, nab (score, optimize) and detect.
#pragma once

namespace lstmad::cli {

// Exit codes: 0 success; 1 the command ran but something failed (cells, files); 2 usage or config error;
// 3 input data or I/O error (standard output that cannot be written too).
enum ExitCode { kOk = 0, kFailed = 1, kUsage = 2, kDataError = 3 };

int main(int argc, char** argv);

}  // namespace lstmad::cli
