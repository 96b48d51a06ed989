// Opening cuBLAS on first use (cublas_library.hpp).
#include "core/gpu/cublas_library.hpp"

#ifndef LSTMAD_CUDA_EMULATION
#include <dlfcn.h>
#include <link.h>
#endif

#include "core/error.hpp"

namespace lstmad::gpu {

std::string cublas_soname() {
  return "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
}

std::string CublasLibrary::version() const {
  int v[3] = {0, 0, 0};
  const libraryPropertyType what[3] = {MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL};
  for (int i = 0; i < 3; ++i)
    if (this->cublasGetProperty(what[i], &v[i]) != CUBLAS_STATUS_SUCCESS) return "unknown";
  return std::to_string(v[0]) + "." + std::to_string(v[1]) + "." + std::to_string(v[2]);
}

namespace {

#ifdef LSTMAD_CUDA_EMULATION
// The emulation build links the emulated cuBLAS (tests/emulation/emu_cublas.cpp) in place of the library.
CublasLibrary open_library() {
  CublasLibrary l;
  l.cublasCreate_v2 = &::cublasCreate_v2;
  l.cublasDestroy_v2 = &::cublasDestroy_v2;
  l.cublasSetStream_v2 = &::cublasSetStream_v2;
  l.cublasSetMathMode = &::cublasSetMathMode;
  l.cublasSgemm_v2 = &::cublasSgemm_v2;
  l.cublasSgemv_v2 = &::cublasSgemv_v2;
  l.cublasGemmEx = &::cublasGemmEx;
  l.cublasGetStatusString = &::cublasGetStatusString;
  l.cublasGetProperty = &::cublasGetProperty;
  l.path = "emulated";
  return l;
}
#else
std::string loader_error() {
  const char* e = dlerror();
  return e ? e : "no reason given";
}

template <class Fn>
void take(void* lib, const char* name, Fn& fn, const std::string& path) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!fn) throw DeviceError("cuBLAS: " + path + " has no " + name + " (" + loader_error() + ")");
}

CublasLibrary open_library() {
  // By name first: LD_LIBRARY_PATH, the executable's run path (which holds the toolkit's library folder,
  // as libcudart is linked from there) and the system's cache, as for any linked library. Then the folder
  // the build found the toolkit in.
  const std::string name = cublas_soname();
  void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::string why;
  if (!lib) {
    why = loader_error();
#ifdef LSTMAD_CUBLAS_DIR
    const std::string in_build_dir = std::string(LSTMAD_CUBLAS_DIR) + "/" + name;
    lib = dlopen(in_build_dir.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) why += "; " + loader_error();
#endif
  }
  if (!lib)
    throw DeviceError(
        "cuBLAS: cannot open " + name + " (" + why +
        "): the GPU engines need the CUDA toolkit's cuBLAS on the library path (LD_LIBRARY_PATH)");
  CublasLibrary l;
  link_map* map = nullptr;
  l.path = dlinfo(lib, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name ? map->l_name : name;
  take(lib, "cublasCreate_v2", l.cublasCreate_v2, l.path);
  take(lib, "cublasDestroy_v2", l.cublasDestroy_v2, l.path);
  take(lib, "cublasSetStream_v2", l.cublasSetStream_v2, l.path);
  take(lib, "cublasSetMathMode", l.cublasSetMathMode, l.path);
  take(lib, "cublasSgemm_v2", l.cublasSgemm_v2, l.path);
  take(lib, "cublasSgemv_v2", l.cublasSgemv_v2, l.path);
  take(lib, "cublasGemmEx", l.cublasGemmEx, l.path);
  take(lib, "cublasGetStatusString", l.cublasGetStatusString, l.path);
  take(lib, "cublasGetProperty", l.cublasGetProperty, l.path);
  // Never closed: handles and kernels of the library live until the process ends.
  return l;
}
#endif

}  // namespace

const CublasLibrary& cublas() {
  // A function-local static: opened once, by whichever thread comes first; a throw leaves it unset, so
  // the next call tries again.
  static const CublasLibrary library = open_library();
  return library;
}

}  // namespace lstmad::gpu
