# lstmad_unity(TARGET [SOURCES...]): with LSTMAD_UNITY (on by default), TARGET compiles its sources eight to
# a unity source, except SOURCES and, as CMake does by itself, those with compile options of their own (the
# command-line files at -O0 in the sanitizer builds).
#
# Why: most of a framework or experiments file's compile time is the code generated for the templates it
# instantiates from nlohmann/json, CLI11 and the standard library, and the parse of their headers; a unity
# source does both once for eight files. CI builds these folders three times (release, asan, emulation) on
# 2 cores. The cost is in rebuilds: an edit recompiles its file's seven neighbours too, so for quick
# edit-and-rebuild cycles configure with -DLSTMAD_UNITY=OFF. `make tidy` configures its own folder without
# it, since clang-tidy reads each file's own compile command.
#
# SOURCES are the files whose text depends on the CUDA configuration (LSTMAD_WITH_CUDA and the GPU folders)
# and the generated build_info.cpp: kept apart, the unity sources are the same in the asan and emulation
# builds, so ccache gives the second build the first one's objects (see the Makefile's `sanitize`).
function(lstmad_unity target)
  if(NOT LSTMAD_UNITY)
    return()
  endif()
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
  if(ARGN)
    set_source_files_properties(${ARGN} TARGET_DIRECTORY ${target} PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  endif()
endfunction()
