// Escaping for the text formats the report writers emit: XML/HTML text and attributes,
// and Graphviz DOT strings.
#pragma once

#include <string>
#include <string_view>

namespace inflight {

// For XML and HTML text and double-quoted attribute values. Control characters that
// XML 1.0 does not allow (all below 0x20 but tab, newline, carriage return) become '?'.
inline std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
          out += '?';
        else
          out += c;
    }
  }
  return out;
}

// The inside of a DOT "..." string; '\n' becomes a centred line break.
inline std::string DotEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
  }
  return out;
}

}  // namespace inflight
