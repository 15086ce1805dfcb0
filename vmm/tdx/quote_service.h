// SPDX-License-Identifier: Apache-2.0
// Where the TDVMCALL GetQuote requests of a TD go: a quote generation service (Intel QGS)
// listening on a Unix socket. cvmm forwards the TDREPORT the guest placed in its shared GetQuote
// buffer and hands back the quote; it never produces or alters a quote itself.
//
// Wire format (QGS message library v1.1 as QEMU's tdx-quote-generator speaks it; all
// little-endian except the frame length):
//   frame        u32 big-endian length of the message, then the message
//   header (16)  @0 major u16 = 1, @2 minor u16 = 1, @4 type u32, @8 size u32 (whole message),
//                @12 error_code u32 (responses; 0 = success)
//   request      header(type 0 GET_QUOTE_REQ), @16 report_size u32, @20 id_list_size u32 = 0,
//                @24 the TDREPORT
//   response     header(type 1 GET_QUOTE_RESP), @16 selected_id_size u32, @20 quote_size u32,
//                @24 selected id, then the quote
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace cvm::vmm::tdx {

class QuoteService {
 public:
  virtual ~QuoteService() = default;
  /// The quote for `report` (a TDREPORT_STRUCT from the guest). Errors: kIo (service down,
  /// timeout), kGuest/kIo for malformed responses.
  [[nodiscard]] virtual Result<std::vector<std::byte>> get_quote(
      std::span<const std::byte> report) = 0;
};

/// A QGS reached through the Unix socket `path`; one connection per request, 30 s timeout.
std::unique_ptr<QuoteService> make_qgs_socket_service(std::string path);

/// The framed GET_QUOTE_REQ message for `report` (frame length included). Pure.
std::vector<std::byte> encode_qgs_get_quote_request(std::span<const std::byte> report);

/// The quote inside a GET_QUOTE_RESP message (without the frame length). Pure; checks the
/// header, type, error code and that sizes fit the message.
[[nodiscard]] Result<std::vector<std::byte>> decode_qgs_get_quote_response(
    std::span<const std::byte> message);

/// Guests put one of two things into the GetQuote buffer: the raw TDREPORT (Linux's
/// tdx-guest driver) or an already framed GET_QUOTE_REQ (td-shim/vTPM style guests, whose
/// in_len covers the 4-byte frame length). For the second kind this returns the TDREPORT
/// inside it; std::nullopt means "not a framed request" (treat the bytes as the report). Pure.
std::optional<std::span<const std::byte>> framed_qgs_request_report(
    std::span<const std::byte> request);

/// The framed GET_QUOTE_RESP carrying `quote` (what framed-request guests expect back). Pure.
std::vector<std::byte> encode_qgs_get_quote_response(std::span<const std::byte> quote);

}  // namespace cvm::vmm::tdx
