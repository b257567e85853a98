// The man page (roff) and the bash completion script of `inflight`, generated from the
// CLI11 definitions of its commands and options, so neither can go stale. The build runs
// `inflight --print-man-page` and `inflight --print-bash-completion` (cli/CMakeLists.txt)
// and `cmake --install` installs both.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace inflight {

// inflight.1: NAME, SYNOPSIS, DESCRIPTION (with the exit statuses of the app's
// description), global OPTIONS, then one section per command with its options.
std::string ManPage(const CLI::App& app, const std::string& version);

// A bash completion script: commands at the first word, then that command's options
// (files and folders otherwise).
std::string BashCompletion(const CLI::App& app);

}  // namespace inflight
