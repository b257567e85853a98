// Kernel modules the suite wants in the guest (unix_diag, for the sock_diag census) and
// the modules they depend on, taken from a kernel's module tree and decompressed on the
// host, so that any guest kernel can load them with finit_module(2).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace inflight {

// Modules worth loading when the kernel has them as modules: without unix_diag the
// census falls back to /proc/net/unix and says so in the report.
inline const std::vector<std::string> kWantedModules = {"unix_diag"};

struct GuestModule {
  std::string name;  // "unix_diag"
  std::string data;  // the uncompressed .ko
};

struct ModulePlan {
  std::vector<GuestModule> modules;  // in load order: dependencies first
  std::vector<std::string> notes;    // wanted modules that are not there, and why
};

// `dir` is a folder holding lib/modules/RELEASE (an unpacked linux-image package), a
// lib/modules/RELEASE folder, or any folder with .ko files. Errors: the folder is missing
// or unreadable, or a decompressor failed.
Result<ModulePlan> CollectModules(const std::string& dir, const std::string& release,
                                  const std::vector<std::string>& wanted = kWantedModules);

// The "depends=" list of a module's .modinfo.
std::vector<std::string> ModuleDepends(const std::string& ko);

}  // namespace inflight
