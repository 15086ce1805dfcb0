// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/acpi/aml.h"

#include "base/result.h"

namespace cvm::vmm::x86::acpi::aml {
namespace {

std::byte b(unsigned value) { return static_cast<std::byte>(value & 0xff); }

void put(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

template <std::unsigned_integral T>
void put_le(Bytes& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(b(static_cast<unsigned>((value >> (8 * i)) & 0xff)));
  }
}

bool is_lead_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_lead_char(c) || (c >= '0' && c <= '9'); }

void put_segment(Bytes& out, std::string_view seg) {
  CVM_CHECK(!seg.empty() && seg.size() <= 4 && is_lead_char(seg[0]), "bad AML name segment");
  for (std::size_t i = 0; i < 4; ++i) {
    const char c = i < seg.size() ? seg[i] : '_';
    CVM_CHECK(is_name_char(c), "bad AML name character");
    out.push_back(b(static_cast<unsigned char>(c)));
  }
}

/// op [ext] PkgLength body.
Bytes with_pkg_length(std::initializer_list<uint8_t> ops, const Bytes& body) {
  Bytes out;
  for (uint8_t op : ops) {
    out.push_back(b(op));
  }
  put(out, pkg_length(body.size()));
  put(out, body);
  return out;
}

}  // namespace

Bytes pkg_length(std::size_t body_length) {
  for (std::size_t extra = 0; extra <= 3; ++extra) {
    const std::size_t total = body_length + 1 + extra;
    const std::size_t limit = extra == 0 ? 0x40 : (std::size_t{1} << (4 + 8 * extra));
    if (total >= limit) {
      continue;
    }
    if (extra == 0) {
      return {b(static_cast<unsigned>(total))};
    }
    Bytes out{b(static_cast<unsigned>((extra << 6) | (total & 0xf)))};
    for (std::size_t i = 0; i < extra; ++i) {
      out.push_back(b(static_cast<unsigned>(total >> (4 + 8 * i))));
    }
    return out;
  }
  CVM_UNREACHABLE("AML package longer than 2^28 bytes");
}

Bytes name_string(std::string_view path) {
  Bytes out;
  if (!path.empty() && path.front() == '\\') {
    out.push_back(b(kRootChar));
    path.remove_prefix(1);
  }
  while (!path.empty() && path.front() == '^') {
    out.push_back(b(kParentPrefixChar));
    path.remove_prefix(1);
  }
  std::vector<std::string_view> segs;
  while (!path.empty()) {
    const std::size_t dot = path.find('.');
    segs.push_back(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  if (segs.empty()) {
    out.push_back(b(0));  // NullName
    return out;
  }
  CVM_CHECK(segs.size() <= 255, "AML name has too many segments");
  if (segs.size() == 2) {
    out.push_back(b(kDualNamePrefix));
  } else if (segs.size() > 2) {
    out.push_back(b(kMultiNamePrefix));
    out.push_back(b(static_cast<unsigned>(segs.size())));
  }
  for (std::string_view seg : segs) {
    put_segment(out, seg);
  }
  return out;
}

Bytes integer(uint64_t value) {
  Bytes out;
  if (value == 0) {
    return {b(kZeroOp)};
  }
  if (value == 1) {
    return {b(kOneOp)};
  }
  if (value <= 0xff) {
    return {b(kBytePrefix), b(static_cast<unsigned>(value))};
  }
  if (value <= 0xffff) {
    out.push_back(b(kWordPrefix));
    put_le<uint16_t>(out, static_cast<uint16_t>(value));
  } else if (value <= 0xffffffff) {
    out.push_back(b(kDWordPrefix));
    put_le<uint32_t>(out, static_cast<uint32_t>(value));
  } else {
    out.push_back(b(kQWordPrefix));
    put_le<uint64_t>(out, value);
  }
  return out;
}

Bytes string(std::string_view text) {
  Bytes out{b(kStringPrefix)};
  for (char c : text) {
    CVM_CHECK(c > 0 && static_cast<unsigned char>(c) < 0x80, "AML string must be ASCII");
    out.push_back(b(static_cast<unsigned char>(c)));
  }
  out.push_back(b(0));
  return out;
}

Bytes eisa_id(std::string_view id) {
  auto hex = [](char c) -> unsigned {
    if (c >= '0' && c <= '9') {
      return static_cast<unsigned>(c - '0');
    }
    CVM_CHECK(c >= 'A' && c <= 'F', "EISA id product number must be upper-case hex");
    return static_cast<unsigned>(c - 'A' + 10);
  };
  CVM_CHECK(id.size() == 7, "EISA id must be 7 characters");
  unsigned vendor = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    CVM_CHECK(id[i] >= 'A' && id[i] <= 'Z', "EISA id vendor must be upper-case letters");
    vendor = (vendor << 5) | static_cast<unsigned>(id[i] - 0x40);
  }
  // Stored big-endian within the DWord: vendor (15 bits) then the 4 product nibbles.
  return {b(kDWordPrefix), b(vendor >> 8), b(vendor), b((hex(id[3]) << 4) | hex(id[4])),
          b((hex(id[5]) << 4) | hex(id[6]))};
}

Bytes name(std::string_view path, const Bytes& object) {
  Bytes out{b(kNameOp)};
  put(out, name_string(path));
  put(out, object);
  return out;
}

Bytes scope(std::string_view path, const Bytes& terms) {
  return with_pkg_length({kScopeOp}, concat({name_string(path), terms}));
}

Bytes device(std::string_view path, const Bytes& terms) {
  return with_pkg_length({kExtOpPrefix, kDeviceOp}, concat({name_string(path), terms}));
}

Bytes package(std::initializer_list<Bytes> elements) {
  CVM_CHECK(elements.size() <= 255, "AML package has more than 255 elements");
  Bytes body{b(static_cast<unsigned>(elements.size()))};
  for (const Bytes& e : elements) {
    put(body, e);
  }
  return with_pkg_length({kPackageOp}, body);
}

Bytes buffer(const Bytes& data) {
  return with_pkg_length({kBufferOp}, concat({integer(data.size()), data}));
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) {
    put(out, p);
  }
  return out;
}

Bytes io_port(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
  Bytes out{b(0x47), b(0x01)};  // small item 0x08, length 7; decodes 16 address bits
  put_le<uint16_t>(out, min);
  put_le<uint16_t>(out, max);
  out.push_back(b(alignment));
  out.push_back(b(length));
  return out;
}

Bytes irq_no_flags(uint8_t irq) {
  CVM_CHECK(irq < 16, "IRQ descriptor covers ISA IRQs 0-15 only");
  Bytes out{b(0x22)};  // small item 0x04, length 2
  put_le<uint16_t>(out, static_cast<uint16_t>(1u << irq));
  return out;
}

Bytes memory32_fixed(bool writable, uint32_t base, uint32_t length) {
  Bytes out{b(0x86), b(0x09), b(0x00), b(writable ? 1 : 0)};  // large item 0x06, length 9
  put_le<uint32_t>(out, base);
  put_le<uint32_t>(out, length);
  return out;
}

Bytes extended_interrupt(bool edge, bool active_low, bool shared, uint32_t irq) {
  const unsigned flags = 0x01u | (edge ? 0x02u : 0) | (active_low ? 0x04u : 0) |
                         (shared ? 0x08u : 0);
  Bytes out{b(0x89), b(0x06), b(0x00), b(flags), b(0x01)};  // large item 0x09, length 6
  put_le<uint32_t>(out, irq);
  return out;
}

Bytes resource_template(std::initializer_list<Bytes> descriptors) {
  Bytes data;
  for (const Bytes& d : descriptors) {
    put(data, d);
  }
  data.push_back(b(0x79));  // End Tag
  data.push_back(b(0x00));  // checksum 0: "treat as if the checksum were correct"
  return buffer(data);
}

}  // namespace cvm::vmm::x86::acpi::aml
