// The reference graph of one run as the verdict saw it: which socket's queue holds which
// descriptor (and which send put it there, by whom), which were taken out again, the
// processes and their fork tree, and which objects outlived the run. Rebuilt from the
// scenario, the run's object log (ObjectEvent: created / sent / sent over / received, by
// inode) and its last census; drawn with Graphviz for the HTML report.
//
// Queue contents are replayed in the file's order, which is the order of a lockstep run;
// for a free run it is an approximation, and the graph says so in its notes.
#pragma once

#include <string>
#include <vector>

#include "reports/report.h"
#include "scenario/scenario.h"

namespace inflight {

struct RefNode {
  enum class Kind : uint8_t {
    kProcess,  // a graph process
    kObject,   // a descriptor's object: socket, pipe end, file, memfd, eventfd
    kEmbryo,   // a connection queued on a listener, not accepted
    kOutside,  // a listener outside the scenario (the --hold holder)
    kUnknown,  // a queue the log cannot place (the peer of a socket of unknown kind)
  };
  std::string id;  // DOT identifier
  Kind kind = Kind::kObject;
  std::string label;  // lines separated by '\n'
  uint64_t ino = 0;   // an object's inode (0: not known, or not an object)
  std::string what;   // an object's kind ("stream socket", "pipe read end"), when created
  bool is_socket = false;
  bool leftover = false;     // named by the verdict
  bool alive = false;        // in the last census
  bool closed_peer = false;  // closed, but kept alive as a leftover's peer
  bool carried = false;      // in flight in the queue of a leftover
};

struct RefEdge {
  enum class Kind : uint8_t {
    kInFlight,  // from a queue's owner to the object a send left in it
    kTaken,     // the same, received again later
    kFork,      // parent -> child process
    kKill,      // killer -> victim
    kPeer,      // the two ends of a socketpair, or a connected pair
    kPending,   // listener -> embryo
  };
  std::string from, to, label;
  Kind kind = Kind::kInFlight;
  bool oob = false;  // an in-flight edge of a MSG_OOB send (the object rides the OOB skb)
};

struct RefGraph {
  std::vector<RefNode> nodes;
  std::vector<RefEdge> edges;
  std::vector<std::string> notes;  // what the drawing cannot show exactly
};

// `s` is the run's scenario (parsed from r.scenario_text).
RefGraph BuildRefGraph(const Scenario& s, const RunRecord& r);

// Graphviz DOT text; `title` labels the drawing.
std::string RefGraphToDot(const RefGraph& g, const std::string& title);

}  // namespace inflight
