// Typed views of DNS RDATA: MX, A, AAAA, TLSA and domain names in uncompressed wire format
// (RFC 1035 §3.1, §3.3.9, §3.4.1; RFC 3596 §2.2; RFC 6698 §2.1), plus name helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mx::dns {

struct MxRecord {
  std::uint16_t preference = 0;
  std::string exchange;  // lower case, no trailing dot; "" for the root (null MX, RFC 7505)
};

struct TlsaRecord {
  std::uint8_t usage = 0;
  std::uint8_t selector = 0;
  std::uint8_t mtype = 0;
  std::string data;  // certificate association data, raw bytes
};

/// Which characters a label may hold once it is turned into text.
enum class NameSyntax : std::uint8_t {
  /// Letters, digits, '-' and '_' (RFC 1123 §2.1 host names, plus '_' for service labels):
  /// what may appear where a host name is expected (MX exchange, CNAME targets).
  hostname,
  /// Any printable ASCII except '.', '\\' and space, so that the text form is unambiguous.
  printable,
};

/// Reads one uncompressed wire-format name starting at `offset` and advances `offset` past it.
/// Returns the name in lower case without the trailing dot ("" for the root). Rejects
/// compression pointers, labels over 63 octets, names over 255 octets (RFC 1035 §2.3.4),
/// truncation and characters outside `syntax`.
Result<std::string> read_name(std::string_view wire, std::size_t& offset,
                              NameSyntax syntax = NameSyntax::hostname);

/// RDATA that is exactly one domain name (CNAME, NS, PTR).
Result<std::string> parse_name(std::string_view rdata, NameSyntax syntax = NameSyntax::hostname);

/// Text name ("mx.Example.net." or "mx.example.net") to uncompressed wire format.
/// Rejects empty labels, labels over 63 octets, names over 255 octets and characters outside
/// `syntax`. "" and "." encode the root.
Result<std::string> encode_name(std::string_view name, NameSyntax syntax = NameSyntax::printable);

Result<MxRecord> parse_mx(std::string_view rdata);
/// A RDATA (4 octets) to dotted-quad text.
Result<std::string> parse_a(std::string_view rdata);
/// AAAA RDATA (16 octets) to RFC 5952 text.
Result<std::string> parse_aaaa(std::string_view rdata);
Result<TlsaRecord> parse_tlsa(std::string_view rdata);

/// "A", "AAAA", "MX", ... or "TYPE<n>" (RFC 3597 §5) for messages.
std::string type_name(std::uint16_t type);

/// "NOERROR", "SERVFAIL", ... (RFC 1035 §4.1.1) or "RCODE<n>".
std::string rcode_name(int rcode);

/// Lower-cases ASCII and strips one trailing dot: the form names are compared and stored in.
std::string normalize_name(std::string_view name);
/// Case-insensitive comparison that ignores a trailing dot (RFC 4343).
bool same_name(std::string_view a, std::string_view b);

}  // namespace mx::dns
