// The build's identity for run manifests, `lstmad --version` and `lstmad info`. The version and build type
// are compile definitions (LSTMAD_VERSION, LSTMAD_BUILD_TYPE); the commit is generated at every build
// (cmake/BuildInfo.cmake) into one source file of its own, so that a commit recompiles that file alone.
#pragma once

namespace lstmad {

// The source checkout's commit when the binary was built (12 hex digits), with "-dirty" appended when
// tracked files had uncommitted changes; "unknown" outside a git checkout.
const char* build_git_hash();

}  // namespace lstmad
