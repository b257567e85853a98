// Renders Graphviz DOT text to SVG with the `dot` program (Debian package graphviz).
//
// `dot` runs as a child in a process group of its own (terminal signals reach only the
// driver), reads the DOT text from a memfd, and is killed if it overruns its deadline.
#pragma once

#include <string>

#include "base/result.h"

namespace inflight {

// The SVG document, or why not (dot missing, failed, or too slow). `dot_path`: the
// program to run, looked up in PATH; $INFLIGHT_DOT overrides the default "dot".
Result<std::string> RenderDotToSvg(const std::string& dot_text, int timeout_ms = 10'000,
                                   const std::string& dot_path = "");

}  // namespace inflight
