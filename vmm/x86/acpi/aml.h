// SPDX-License-Identifier: Apache-2.0
// A small AML (ACPI Machine Language) byte builder for cvmm's DSDT: name strings, integers,
// strings, packages, buffers, Scope/Device/Name, and resource templates
// (ACPI 6.5 §20 "ACPI Machine Language Specification", §6.4 "Resource Data Types").
// Each function returns the encoded bytes of one term. Names and sizes come from cvmm's own
// code, never from a guest, so an invalid name or an oversized package is a cvmm bug and
// aborts through CVM_CHECK. Pure; included by vmm/x86/acpi/ and tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace cvm::vmm::x86::acpi::aml {

using Bytes = std::vector<std::byte>;

// Opcodes (ACPI 6.5 §20.3 Table 20.1 "AML Byte Stream Byte Values").
inline constexpr uint8_t kZeroOp = 0x00;
inline constexpr uint8_t kOneOp = 0x01;
inline constexpr uint8_t kNameOp = 0x08;
inline constexpr uint8_t kBytePrefix = 0x0a;
inline constexpr uint8_t kWordPrefix = 0x0b;
inline constexpr uint8_t kDWordPrefix = 0x0c;
inline constexpr uint8_t kStringPrefix = 0x0d;
inline constexpr uint8_t kQWordPrefix = 0x0e;
inline constexpr uint8_t kScopeOp = 0x10;
inline constexpr uint8_t kBufferOp = 0x11;
inline constexpr uint8_t kPackageOp = 0x12;
inline constexpr uint8_t kDualNamePrefix = 0x2e;
inline constexpr uint8_t kMultiNamePrefix = 0x2f;
inline constexpr uint8_t kExtOpPrefix = 0x5b;
inline constexpr uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
inline constexpr uint8_t kRootChar = 0x5c;  // '\'
inline constexpr uint8_t kParentPrefixChar = 0x5e;  // '^'
inline constexpr uint8_t kOnesOp = 0xff;

/// PkgLength (§20.2.4) for a package whose contents after the PkgLength are `body_length`
/// bytes. The encoded length counts the PkgLength bytes themselves: 1 byte up to 63 total,
/// else a lead byte (count in bits 7:6, low nibble in 3:0) plus 1-3 bytes. Aborts above
/// 2^28 - 1.
Bytes pkg_length(std::size_t body_length);

/// NameString (§20.2.2): optional leading '\' or '^'s, then dot-separated segments of up to
/// four characters [A-Z0-9_] (first not a digit), padded with '_'. "\\_SB_.COM1" ->
/// 5C 2E "_SB_" "COM1".
Bytes name_string(std::string_view path);

/// The shortest integer encoding: ZeroOp, OneOp, BytePrefix, WordPrefix, DWordPrefix or
/// QWordPrefix (§20.2.3). OnesOp is not used (its width depends on the table revision).
Bytes integer(uint64_t value);

/// String (§20.2.3): StringPrefix, ASCII 0x01-0x7f, NUL. Aborts on other characters.
Bytes string(std::string_view text);

/// EISA id as a DWord (§6.1.5 _HID): "PNP0501" -> 0C 41 D0 05 01. Aborts unless 3 letters
/// A-Z and 4 hex digits.
Bytes eisa_id(std::string_view id);

/// Name(path, object).
Bytes name(std::string_view path, const Bytes& object);
/// Scope(path) { terms }.
Bytes scope(std::string_view path, const Bytes& terms);
/// Device(path) { terms }.
Bytes device(std::string_view path, const Bytes& terms);
/// Package(n) { elements } with NumElements = elements.size() (at most 255).
Bytes package(std::initializer_list<Bytes> elements);
/// Buffer(n) { bytes } with BufferSize = data.size().
Bytes buffer(const Bytes& data);
/// Concatenation helper.
Bytes concat(std::initializer_list<Bytes> parts);

// ---- Resource descriptors (§6.4) ----
/// I/O port descriptor, 16-bit decode (§6.4.2.5): 47 01 min max align length.
Bytes io_port(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
/// IRQ descriptor without flags (§6.4.2.1): 22 mask16 (edge, active high, exclusive).
Bytes irq_no_flags(uint8_t irq);
/// 32-bit fixed memory range (§6.4.3.4): 86 09 00 rw base32 length32.
Bytes memory32_fixed(bool writable, uint32_t base, uint32_t length);
/// Extended interrupt descriptor with one interrupt (§6.4.3.6): 89 06 00 flags 01 irq32.
/// flags: bit0 consumer, bit1 edge, bit2 active low, bit3 shared.
Bytes extended_interrupt(bool edge, bool active_low, bool shared, uint32_t irq);
/// ResourceTemplate(): Buffer of the descriptors followed by the End Tag 79 00.
Bytes resource_template(std::initializer_list<Bytes> descriptors);

}  // namespace cvm::vmm::x86::acpi::aml
