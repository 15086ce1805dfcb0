// SPDX-License-Identifier: Apache-2.0
// Byte offsets of the Linux x86 boot protocol: the real-mode setup header (which sits at the
// same offsets in a bzImage file and in the zero page) and the other zero-page fields cvmm
// writes. Sources: Documentation/arch/x86/boot.rst ("The real-mode kernel header") and
// Documentation/arch/x86/zero-page.rst; cross-checked against <asm/bootparam.h> in
// tests/unit/x86/zero_page_test.cc. Pure constants.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cvm::vmm::x86::boot {

// ---- setup header (offsets from the start of the image / zero page) ----
inline constexpr std::size_t kSetupSects = 0x1f1;       // u8, 0 means 4
inline constexpr std::size_t kSyssize = 0x1f4;          // u32, protected-mode size / 16
inline constexpr std::size_t kBootFlag = 0x1fe;         // u16, 0xaa55
inline constexpr std::size_t kJump = 0x200;             // u16; byte 0x201 = header length - 2
inline constexpr std::size_t kHeader = 0x202;           // u32, "HdrS"
inline constexpr std::size_t kVersion = 0x206;          // u16, protocol version
inline constexpr std::size_t kTypeOfLoader = 0x210;     // u8
inline constexpr std::size_t kLoadflags = 0x211;        // u8
inline constexpr std::size_t kCode32Start = 0x214;      // u32
inline constexpr std::size_t kRamdiskImage = 0x218;     // u32
inline constexpr std::size_t kRamdiskSize = 0x21c;      // u32
inline constexpr std::size_t kHeapEndPtr = 0x224;       // u16
inline constexpr std::size_t kCmdLinePtr = 0x228;       // u32 (2.02+)
inline constexpr std::size_t kInitrdAddrMax = 0x22c;    // u32 (2.03+)
inline constexpr std::size_t kKernelAlignment = 0x230;  // u32 (2.05+)
inline constexpr std::size_t kRelocatableKernel = 0x234;  // u8 (2.05+)
inline constexpr std::size_t kXloadflags = 0x236;       // u16 (2.12+)
inline constexpr std::size_t kCmdlineSize = 0x238;      // u32 (2.06+)
inline constexpr std::size_t kPrefAddress = 0x258;      // u64 (2.10+)
inline constexpr std::size_t kInitSize = 0x260;         // u32 (2.10+)
/// The zero page's copy of the header ends before edd_mbr_sig_buffer.
inline constexpr std::size_t kSetupHeaderLimit = 0x290;

inline constexpr uint16_t kBootFlagMagic = 0xaa55;
inline constexpr uint32_t kHeaderMagic = 0x53726448;  // "HdrS" little-endian
inline constexpr uint8_t kLoadedHigh = 0x01;          // loadflags: protected-mode code at 1 MiB+
inline constexpr uint8_t kCanUseHeap = 0x80;          // loadflags: heap_end_ptr is valid
inline constexpr uint16_t kXlfKernel64 = 0x0001;      // xloadflags: has the 64-bit entry at +0x200
inline constexpr uint16_t kXlfCanBeLoadedAbove4G = 0x0002;
inline constexpr uint8_t kTypeOfLoaderUndefined = 0xff;  // "boot loader without an assigned id"
/// Offset of the 64-bit entry point from the start of the protected-mode kernel (boot.rst
/// "64-bit BOOT PROTOCOL").
inline constexpr uint64_t kEntry64Offset = 0x200;
/// heap_end_ptr value used by loaders that keep the setup heap below 0xfe00 (boot.rst).
inline constexpr uint16_t kHeapEnd = 0xfe00;

// ---- other zero-page fields (zero-page.rst) ----
inline constexpr std::size_t kAcpiRsdpAddr = 0x070;    // u64 (2.14+)
inline constexpr std::size_t kExtRamdiskImage = 0x0c0;  // u32, bits 63:32 of ramdisk_image
inline constexpr std::size_t kExtRamdiskSize = 0x0c4;   // u32
inline constexpr std::size_t kExtCmdLinePtr = 0x0c8;    // u32
inline constexpr std::size_t kE820Entries = 0x1e8;     // u8
inline constexpr std::size_t kE820Table = 0x2d0;       // 128 x boot_e820_entry (20 bytes)
inline constexpr std::size_t kE820EntrySize = 20;
inline constexpr std::size_t kE820MaxEntries = 128;
inline constexpr std::size_t kZeroPageSize = 0x1000;

static_assert(kE820Table + kE820MaxEntries * kE820EntrySize <= kZeroPageSize);

}  // namespace cvm::vmm::x86::boot
