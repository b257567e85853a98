// The static HTML page of a report: one self-contained file (inline CSS and SVG, no
// scripts, nothing fetched) that a maintainer reads first. Summary, then findings
// grouped by signature (most severe first), each with how often it happened, one example
// run in full: verdict, leftovers, faults, a drawing of its reference graph at the
// ruling, the scenario step by step with each step's outcome, and the census; then the
// errors (ours), then every scenario's runs in a table.
#pragma once

#include <functional>
#include <string>

#include "base/result.h"
#include "reports/report.h"

namespace inflight {

// Turns DOT text into an SVG document (RenderDotToSvg in production; tests pass fakes).
using SvgRenderer = std::function<Result<std::string>(const std::string& dot)>;

struct HtmlOptions {
  size_t max_graphs = 40;        // findings drawn; later ones are listed without a drawing
  size_t max_graph_nodes = 300;  // larger graphs are not drawn (their DOT is linked)
};

std::string ReportToHtml(const Report& report, const SvgRenderer& render,
                         const HtmlOptions& opt = {});

}  // namespace inflight
