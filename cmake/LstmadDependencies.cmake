# Third-party dependencies: Debian packages (nlohmann-json3-dev, libcli11-dev, libeigen3-dev, libgtest-dev,
# libbenchmark-dev), or a vendored folder (LSTMAD_DEPS_DIR, filled by scripts/vendor-deps.sh) on machines
# that cannot install them, such as the GPU machine.
add_library(lstmad_thirdparty INTERFACE)
if(LSTMAD_DEPS_DIR)
  message(STATUS "Dependencies from ${LSTMAD_DEPS_DIR}")
  target_include_directories(lstmad_thirdparty SYSTEM INTERFACE
    ${LSTMAD_DEPS_DIR}/include ${LSTMAD_DEPS_DIR}/include/eigen3)
else()
  find_package(nlohmann_json 3.10 REQUIRED)
  find_package(Eigen3 3.3 REQUIRED NO_MODULE)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  target_link_libraries(lstmad_thirdparty INTERFACE nlohmann_json::nlohmann_json Eigen3::Eigen)
  target_include_directories(lstmad_thirdparty SYSTEM INTERFACE ${CLI11_INCLUDE_DIR})
endif()
# Eigen must never spawn threads of its own: parallelism is across models, which keeps results
# bit-identical whatever the thread count.
target_compile_definitions(lstmad_thirdparty INTERFACE EIGEN_DONT_PARALLELIZE)

find_package(Threads REQUIRED)

if(LSTMAD_TESTS)
  if(LSTMAD_DEPS_DIR AND EXISTS ${LSTMAD_DEPS_DIR}/googletest/CMakeLists.txt)
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    add_subdirectory(${LSTMAD_DEPS_DIR}/googletest ${CMAKE_BINARY_DIR}/_deps/googletest EXCLUDE_FROM_ALL)
    # googletest 1.11 and later define these aliases themselves (Debian 12 ships 1.12).
    if(NOT TARGET GTest::gtest)
      add_library(GTest::gtest ALIAS gtest)
    endif()
    if(NOT TARGET GTest::gtest_main)
      add_library(GTest::gtest_main ALIAS gtest_main)
    endif()
  else()
    find_package(GTest REQUIRED)
  endif()
endif()

if(LSTMAD_BENCHMARKS)
  find_package(benchmark QUIET)
  if(NOT benchmark_FOUND)
    message(STATUS "Google Benchmark not found: CPU microbenchmarks are not built")
  endif()
endif()
