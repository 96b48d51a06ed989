#include "core/cpu_quota.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace lstmad {
namespace fs = std::filesystem;
namespace {

std::string first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

// quota / period CPUs, rounded up; 0 for no quota ("max" in v2, -1 in v1) or text that is no number.
std::size_t cpus_of(const std::string& quota, const std::string& period) {
  long long q = 0, p = 0;
  std::istringstream qs(quota), ps(period);
  if (!(qs >> q) || !(ps >> p) || q <= 0 || p <= 0) return 0;
  return static_cast<std::size_t>(q / p + (q % p != 0 ? 1 : 0));
}

std::size_t v2_quota(const fs::path& dir) {
  std::istringstream max(first_line(dir / "cpu.max"));
  std::string quota, period;
  max >> quota >> period;
  return cpus_of(quota, period);
}

std::size_t v1_quota(const fs::path& dir) {
  return cpus_of(first_line(dir / "cpu.cfs_quota_us"), first_line(dir / "cpu.cfs_period_us"));
}

// The smallest quota from the group's folder up to the hierarchy's mount. Inside a container with its
// own cgroup namespace the path /proc gives may not exist under the mount, which then is the group.
std::size_t smallest_up(const fs::path& mount, const std::string& group,
                        std::size_t (*quota)(const fs::path&)) {
  std::error_code ec;
  if (!fs::is_directory(mount, ec)) return 0;
  fs::path dir = (mount / fs::path(group).relative_path()).lexically_normal();
  const fs::path inside = dir.lexically_relative(mount);  // a path with ".." could lead out of the mount
  if (inside.empty() || *inside.begin() == ".." || !fs::is_directory(dir, ec)) dir = mount;
  std::size_t best = 0;
  for (;;) {
    const std::size_t n = quota(dir);
    if (n > 0 && (best == 0 || n < best)) best = n;
    if (dir == mount || dir.parent_path() == dir) break;
    dir = dir.parent_path();
  }
  return best;
}

}  // namespace

std::size_t cgroup_cpu_quota(const std::string& root) {
  const fs::path sys = fs::path(root + "/sys/fs/cgroup").lexically_normal();
  std::ifstream in(root + "/proc/self/cgroup");
  std::size_t best = 0;
  std::string line;
  while (std::getline(in, line)) {  // hierarchy-id:controllers:path
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), group = line.substr(b + 1);
    std::size_t n = 0;
    if (line.compare(0, a, "0") == 0 && controllers.empty()) {
      n = smallest_up(sys, group, v2_quota);  // pure v2; a hybrid's unified tree holds no cpu controller
    } else {
      std::vector<std::string> names;
      std::istringstream list(controllers);
      for (std::string c; std::getline(list, c, ',');) names.push_back(c);
      bool cpu = false;
      for (const auto& c : names) cpu = cpu || c == "cpu";
      if (!cpu) continue;
      std::error_code ec;
      const fs::path mount = fs::is_directory(sys / "cpu", ec) ? sys / "cpu" : sys / controllers;
      n = smallest_up(mount, group, v1_quota);
    }
    if (n > 0 && (best == 0 || n < best)) best = n;
  }
  return best;
}

}  // namespace lstmad
