// `lstmad info`: version, build options, engines and devices.
#include <exception>
#include <iostream>
#include <string>

#include "core/build_info.hpp"
#include "experiments/cli_common.hpp"
#include "lstm/engine.hpp"
#ifdef LSTMAD_WITH_CUDA
#include "core/gpu/cublas_library.hpp"
#include "kernels/device_query.hpp"
#endif
#ifdef LSTMAD_WITH_CUDNN
#include <cudnn.h>
#endif

namespace lstmad::cli {

void add_info_command(CLI::App& app, Registry& reg) {
  auto* sub = app.add_subcommand("info", "Print the version, build options, engines and devices");
  reg.add(sub, [] {
    std::cout << "lstmad " << LSTMAD_VERSION << " (" << build_git_hash() << "), build " << LSTMAD_BUILD_TYPE
              << "\n";
#ifdef LSTMAD_WITH_CUDA
    std::cout << "CUDA: compiled in";
#ifdef LSTMAD_WITH_CUDNN
    // cudnnGetVersion() is the library loaded now; CUDNN_VERSION the header the build saw.
    std::cout << ", cuDNN " << cudnnGetVersion() / 10000 << "." << (cudnnGetVersion() % 10000) / 100 << "."
              << cudnnGetVersion() % 100 << " (built against " << CUDNN_MAJOR << "." << CUDNN_MINOR << "."
              << CUDNN_PATCHLEVEL << ")";
#endif
    // cuBLAS is opened on first use (core/gpu/cublas_library.hpp); info opens it to say which one runs.
    try {
      const auto& cublas = gpu::cublas();
      std::cout << ", cuBLAS " << cublas.version() << " (" << cublas.path << ")";
    } catch (const std::exception& e) {
      std::cout << ", cuBLAS not found (" << e.what() << ")";
    }
    std::cout << "\n";
#else
    std::cout << "CUDA: not compiled in (CPU-only build)\n";
#endif
    // Each engine with the precisions it accepts (constructing an engine needs no device; one that
    // cannot run a precision refuses it at construction, naming another engine).
    std::cout << "engines:";
    for (const auto& n : engine_names()) {
      std::string accepted;
      for (Precision p : {Precision::FP32, Precision::FP64, Precision::TF32, Precision::BF16}) {
        EngineOptions o;
        o.name = n;
        o.precision = p;
        try {
          make_engine(o);
          accepted += (accepted.empty() ? "" : ", ") + to_string(p);
        } catch (const std::exception&) {
        }
      }
      std::cout << " " << n << " (" << accepted << ")";
    }
    std::cout << "\n";
#ifdef LSTMAD_WITH_CUDA
    auto rt = kernels::query_devices();
    auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); };
    std::cout << "CUDA driver " << (rt.driver_version ? version(rt.driver_version) : std::string("none"))
              << ", runtime " << version(rt.runtime_version) << "\n";
    if (rt.devices.empty()) std::cout << "devices: none (" << rt.error << ")\n";
    for (const auto& d : rt.devices)
      std::cout << "device " << d.ordinal << ": " << d.name << ", sm_" << d.cc_major << d.cc_minor << ", "
                << d.sm_count << " SMs, " << (d.global_mem_bytes >> 20) << " MiB, "
                << d.shared_mem_per_block_optin / 1024 << " KiB shared memory per block\n";
#else
    std::cout << "devices: none (CPU-only build)\n";
#endif
    return 0;
  });
}

}  // namespace lstmad::cli
