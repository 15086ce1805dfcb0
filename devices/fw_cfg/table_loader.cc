// SPDX-License-Identifier: Apache-2.0
#include "devices/fw_cfg/table_loader.h"

#include <array>
#include <bit>
#include <optional>

#include "base/byte_reader.h"

namespace cvm::devices::fw_cfg {
namespace {

// Field offsets inside one 128-byte command (see the header).
constexpr std::size_t kCommandAt = 0;
constexpr std::size_t kFileAt = 4;
constexpr std::size_t kAllocAlignAt = 60;
constexpr std::size_t kAllocZoneAt = 64;
constexpr std::size_t kPointerSrcAt = 60;
constexpr std::size_t kPointerOffsetAt = 116;
constexpr std::size_t kPointerSizeAt = 120;
constexpr std::size_t kChecksumOffsetAt = 60;
constexpr std::size_t kChecksumStartAt = 64;
constexpr std::size_t kChecksumLengthAt = 68;
static_assert(kPointerSrcAt + kLoaderFileNameSize == kPointerOffsetAt);
static_assert(kFileAt + kLoaderFileNameSize == kAllocAlignAt);

using Command = std::array<std::byte, kLoaderCommandSize>;

void put32(Command& c, std::size_t at, uint32_t value) {
  store_le<uint32_t>(std::span(c).subspan(at).first<4>(), value);
}

Result<void> put_name(Command& c, std::size_t at, const std::string& name) {
  if (name.empty() || name.size() >= kLoaderFileNameSize || name.find('\0') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "table-loader file name \"{}\" must be 1 to {} bytes without NUL", name,
                      kLoaderFileNameSize - 1);
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    c[at + i] = static_cast<std::byte>(name[i]);
  }
  return ok();
}

Result<Command> encode(const LoaderAllocate& a) {
  if (!std::has_single_bit(a.align) || a.align > kLoaderMaxAlign) {
    return make_error(ErrorCode::kInvalidArgument,
                      "table-loader: allocation alignment {:#x} for \"{}\" is not a power of two "
                      "up to {:#x}", a.align, a.file, kLoaderMaxAlign);
  }
  Command c{};
  put32(c, kCommandAt, kLoaderAllocate);
  CVM_TRY(put_name(c, kFileAt, a.file));
  put32(c, kAllocAlignAt, a.align);
  c[kAllocZoneAt] = static_cast<std::byte>(a.zone);
  return c;
}

Result<Command> encode(const LoaderAddPointer& p) {
  if (p.size != 1 && p.size != 2 && p.size != 4 && p.size != 8) {
    return make_error(ErrorCode::kInvalidArgument,
                      "table-loader: pointer size {} in \"{}\" is not 1, 2, 4 or 8", p.size,
                      p.dest_file);
  }
  Command c{};
  put32(c, kCommandAt, kLoaderAddPointer);
  CVM_TRY(put_name(c, kFileAt, p.dest_file));
  CVM_TRY(put_name(c, kPointerSrcAt, p.src_file));
  put32(c, kPointerOffsetAt, p.offset);
  c[kPointerSizeAt] = static_cast<std::byte>(p.size);
  return c;
}

Result<Command> encode(const LoaderAddChecksum& k) {
  Command c{};
  put32(c, kCommandAt, kLoaderAddChecksum);
  CVM_TRY(put_name(c, kFileAt, k.file));
  put32(c, kChecksumOffsetAt, k.result_offset);
  put32(c, kChecksumStartAt, k.start);
  put32(c, kChecksumLengthAt, k.length);
  return c;
}

Result<std::string> read_name(const ByteReader& r, std::size_t at) {
  CVM_ASSIGN_OR_RETURN(auto field, r.slice(at, kLoaderFileNameSize, "file name"));
  std::string name;
  for (std::byte b : field) {
    if (b == std::byte{0}) {
      return name;
    }
    name.push_back(static_cast<char>(b));
  }
  return make_error(ErrorCode::kMalformedImage,
                    "table-loader: file name at offset {:#x} is not NUL-terminated", at);
}

Result<std::optional<LoaderCommand>> decode(const ByteReader& r) {
  CVM_ASSIGN_OR_RETURN(const uint32_t command, r.le<uint32_t>(kCommandAt, "command"));
  switch (command) {
    case kLoaderAllocate: {
      LoaderAllocate a;
      CVM_ASSIGN_OR_RETURN(a.file, read_name(r, kFileAt));
      CVM_ASSIGN_OR_RETURN(a.align, r.le<uint32_t>(kAllocAlignAt, "align"));
      CVM_ASSIGN_OR_RETURN(const uint8_t zone, r.le<uint8_t>(kAllocZoneAt, "zone"));
      a.zone = static_cast<LoaderZone>(zone);
      return std::optional<LoaderCommand>(std::move(a));
    }
    case kLoaderAddPointer: {
      LoaderAddPointer p;
      CVM_ASSIGN_OR_RETURN(p.dest_file, read_name(r, kFileAt));
      CVM_ASSIGN_OR_RETURN(p.src_file, read_name(r, kPointerSrcAt));
      CVM_ASSIGN_OR_RETURN(p.offset, r.le<uint32_t>(kPointerOffsetAt, "pointer offset"));
      CVM_ASSIGN_OR_RETURN(p.size, r.le<uint8_t>(kPointerSizeAt, "pointer size"));
      return std::optional<LoaderCommand>(std::move(p));
    }
    case kLoaderAddChecksum: {
      LoaderAddChecksum k;
      CVM_ASSIGN_OR_RETURN(k.file, read_name(r, kFileAt));
      CVM_ASSIGN_OR_RETURN(k.result_offset, r.le<uint32_t>(kChecksumOffsetAt, "result offset"));
      CVM_ASSIGN_OR_RETURN(k.start, r.le<uint32_t>(kChecksumStartAt, "start"));
      CVM_ASSIGN_OR_RETURN(k.length, r.le<uint32_t>(kChecksumLengthAt, "length"));
      return std::optional<LoaderCommand>(std::move(k));
    }
    default:
      return std::optional<LoaderCommand>();
  }
}

}  // namespace

Result<std::vector<std::byte>> encode_table_loader(std::span<const LoaderCommand> commands) {
  std::vector<std::byte> script;
  script.reserve(commands.size() * kLoaderCommandSize);
  for (const LoaderCommand& command : commands) {
    CVM_ASSIGN_OR_RETURN(const Command bytes,
                         std::visit([](const auto& c) { return encode(c); }, command));
    script.insert(script.end(), bytes.begin(), bytes.end());
  }
  return script;
}

Result<std::vector<LoaderCommand>> parse_table_loader(std::span<const std::byte> script) {
  if (script.size() % kLoaderCommandSize != 0) {
    return make_error(ErrorCode::kMalformedImage,
                      "table-loader: size {:#x} is not a multiple of {} bytes", script.size(),
                      kLoaderCommandSize);
  }
  std::vector<LoaderCommand> commands;
  for (std::size_t at = 0; at < script.size(); at += kLoaderCommandSize) {
    const ByteReader reader(script.subspan(at, kLoaderCommandSize), "table-loader command");
    auto command = decode(reader);
    if (!command) {
      return std::move(command).error().context(fmt::format("command at {:#x}", at));
    }
    if (command->has_value()) {
      commands.push_back(std::move(**command));
    }
  }
  return commands;
}

}  // namespace cvm::devices::fw_cfg
