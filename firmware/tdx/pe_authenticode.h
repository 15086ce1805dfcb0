// SPDX-License-Identifier: Apache-2.0
// The Authenticode digest of a PE/COFF image (Microsoft PE Format, "Calculating the PE Image
// Hash"), the way edk2 measures an EFI application it loads (SecurityPkg DxeTpm2MeasureBootLib
// Tcg2MeasurePeImage; OvmfPkg/IntelTdx/TdTcg2Dxe MeasureBootPeCoff.c), e.g. a Linux bzImage
// with its EFI stub:
//   1. the headers from offset 0 up to OptionalHeader.CheckSum, skipping CheckSum (4 bytes)
//   2. the rest of the headers up to SizeOfHeaders, skipping the Certificate Table data
//      directory entry (8 bytes) when NumberOfRvaAndSizes > 4
//   3. every section with SizeOfRawData != 0, in ascending PointerToRawData order
//   4. the bytes after SizeOfHeaders + sum(SizeOfRawData) up to the end of the file minus the
//      Certificate Table size
// Layout used (all little-endian): DOS "MZ", e_lfanew u32 @0x3c; "PE\0\0"; COFF header (20 bytes:
// NumberOfSections u16 @2, SizeOfOptionalHeader u16 @16); optional header (Magic 0x10b PE32 /
// 0x20b PE32+; SizeOfHeaders @60, CheckSum @64, NumberOfRvaAndSizes @92 / @108, data directories
// @96 / @112, Certificate Table = entry 4); section headers of 40 bytes (SizeOfRawData @16,
// PointerToRawData @20).
#pragma once

#include "base/result.h"
#include "firmware/sha.h"

#include <cstddef>
#include <span>

namespace cvm::firmware::tdx {

/// SHA-384 Authenticode digest of `image`. kMalformedImage naming the field when the image is not
/// a PE/COFF file or its headers point outside it.
Result<Sha384Digest> pe_authenticode_sha384(std::span<const std::byte> image);

}  // namespace cvm::firmware::tdx
