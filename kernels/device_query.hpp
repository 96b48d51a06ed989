// Device query for `lstmad info` and for sizing work from the device at run time. Plain C++ header.
#pragma once
#include <string>
#include <vector>

namespace lstmad::kernels {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  std::size_t global_mem_bytes = 0;
  int shared_mem_per_block_optin = 0;   // bytes a block may opt into
  int shared_mem_per_sm = 0;
  int regs_per_block = 0;
  int max_threads_per_block = 0;
  int cluster_launch = 0;               // thread-block clusters supported
};

struct RuntimeInfo {
  int driver_version = 0;   // e.g. 13000; 0 when no driver is loaded
  int runtime_version = 0;
  std::string error;        // why no device is usable, when none is
  std::vector<DeviceInfo> devices;
};

// Never throws: a machine without a driver or GPU gives an empty device list and the reason.
RuntimeInfo query_devices();

}  // namespace lstmad::kernels
