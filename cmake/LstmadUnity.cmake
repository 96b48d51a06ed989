# lstmad_unity(TARGET [SOURCES...]): with LSTMAD_UNITY (on by default), TARGET compiles its sources eight to
# a unity source, except those kept apart below and, as CMake does by itself, those with compile options of
# their own (the command-line files at -O0 in the sanitizer builds).
#
# Why: most of a framework or experiments file's compile time is the code generated for the templates it
# instantiates from nlohmann/json, CLI11 and the standard library, and the parse of their headers; a unity
# source does both once for eight files. CI builds these folders for release and asan, and the emulation
# build for what it cannot take from ccache, on 2 cores. The cost is in rebuilds: an edit recompiles its
# file's seven neighbours too, so for quick edit-and-rebuild cycles configure with -DLSTMAD_UNITY=OFF.
# `make tidy` configures its own folder without it, since clang-tidy reads each file's own compile command.
#
# Kept apart, so that the unity sources are the same text in the asan and emulation builds and ccache gives
# the second build the first one's objects (the Makefile's `sanitize`): SOURCES, the files only some
# configurations have (the GPU folders, the generated build_info.cpp), and every source that names the CUDA
# configuration's macros, found here by reading it. That reading happens at configure time: a file that
# starts using one of them is kept apart from the next configure on (until then it only costs cache hits).
function(lstmad_unity target)
  if(NOT LSTMAD_UNITY)
    return()
  endif()
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
  set(apart ${ARGN})
  get_target_property(sources ${target} SOURCES)
  get_target_property(dir ${target} SOURCE_DIR)
  foreach(src ${sources})
    cmake_path(ABSOLUTE_PATH src BASE_DIRECTORY ${dir} OUTPUT_VARIABLE path)
    if(EXISTS ${path})
      file(READ ${path} text)
      if(text MATCHES "LSTMAD_(WITH_CUDA|WITH_CUDNN|CUDA_EMULATION)")
        list(APPEND apart ${path})
      endif()
    endif()
  endforeach()
  if(apart)
    set_source_files_properties(${apart} TARGET_DIRECTORY ${target} PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  endif()
  list(REMOVE_DUPLICATES apart)
  list(LENGTH apart n)
  message(VERBOSE "${target}: ${n} sources kept out of the unity sources: ${apart}")
endfunction()
