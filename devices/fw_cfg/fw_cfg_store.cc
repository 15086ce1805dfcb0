// SPDX-License-Identifier: Apache-2.0
#include "devices/fw_cfg/fw_cfg_store.h"

#include <limits>

#include "base/byte_reader.h"
#include "base/checked.h"

namespace cvm::devices::fw_cfg {
namespace {

constexpr std::string_view kSignature = "QEMU";

/// The key an access selects: bit 14 (the obsolete write flag) does not change the item.
constexpr uint16_t normalized(uint16_t key) noexcept {
  return static_cast<uint16_t>(key & ~kKeyWriteFlag);
}

bool reserved_key(uint16_t key) noexcept {
  return key == kKeySignature || key == kKeyId || key == kKeyFileDir;
}

template <std::unsigned_integral T>
void put_be(std::vector<std::byte>& out, std::size_t at, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[at + i] = static_cast<std::byte>((value >> (8 * (sizeof(T) - 1 - i))) & 0xff);
  }
}

template <std::unsigned_integral T>
FwCfgBytes le_item(T value) {
  std::vector<std::byte> bytes(sizeof(T));
  store_le<T>(std::span<std::byte, sizeof(T)>(bytes.data(), sizeof(T)), value);
  return FwCfgBytes(std::move(bytes));
}

}  // namespace

FwCfgBytes::FwCfgBytes(std::vector<std::byte> bytes)
    : owner_(std::make_shared<const std::vector<std::byte>>(std::move(bytes))),
      size_(owner_->size()) {}

Result<FwCfgBytes> FwCfgBytes::slice(std::shared_ptr<const std::vector<std::byte>> owner,
                                     std::size_t offset, std::size_t size) {
  const std::size_t total = owner ? owner->size() : 0;
  if (!range_within<std::size_t>(offset, size, total)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fw_cfg item {:#x}+{:#x} lies outside its {:#x}-byte buffer", offset, size,
                      total);
  }
  FwCfgBytes bytes;
  bytes.owner_ = std::move(owner);
  bytes.offset_ = offset;
  bytes.size_ = size;
  return bytes;
}

std::span<const std::byte> FwCfgBytes::span() const noexcept {
  if (!owner_) {
    return {};
  }
  return std::span<const std::byte>(*owner_).subspan(offset_, size_);
}

const FwCfgBytes* FwCfgStore::find(uint16_t key) const noexcept {
  auto it = items_.find(normalized(key));
  return it == items_.end() ? nullptr : &it->second;
}

std::vector<uint16_t> FwCfgStore::keys() const {
  std::vector<uint16_t> keys;
  for (const auto& [key, bytes] : items_) {
    keys.push_back(key);
  }
  return keys;
}

Result<void> FwCfgStoreBuilder::add_item(uint16_t key, FwCfgBytes bytes) {
  if (reserved_key(key) || (key & kKeyWriteFlag) != 0 ||
      ((key & kKeyArchLocal) == 0 && key >= kKeyFileFirst)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fw_cfg key {:#06x} is not a numbered item cvmm may set", key);
  }
  if (!items_.emplace(key, std::move(bytes)).second) {
    return make_error(ErrorCode::kInvalidArgument, "fw_cfg key {:#06x} is set twice", key);
  }
  return ok();
}

Result<void> FwCfgStoreBuilder::add_file(std::string_view name, FwCfgBytes bytes) {
  if (name.empty() || name.size() > kMaxFileNameLength ||
      name.find('\0') != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fw_cfg file name \"{}\" must be 1 to {} bytes without NUL", name,
                      kMaxFileNameLength);
  }
  if (bytes.size() > std::numeric_limits<uint32_t>::max()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fw_cfg file \"{}\" has {:#x} bytes, more than a u32 size holds", name,
                      bytes.size());
  }
  if (!files_.emplace(std::string(name), std::move(bytes)).second) {
    return make_error(ErrorCode::kInvalidArgument, "fw_cfg file \"{}\" is added twice", name);
  }
  return ok();
}

Result<FwCfgStore> FwCfgStoreBuilder::build(bool dma) && {
  if (files_.size() > kMaxFiles) {
    return make_error(ErrorCode::kInvalidArgument, "{} fw_cfg files exceed the {} file keys",
                      files_.size(), kMaxFiles);
  }
  FwCfgStore store;
  store.dma_ = dma;
  store.items_ = std::move(items_);
  std::vector<std::byte> signature(kSignature.size());
  for (std::size_t i = 0; i < kSignature.size(); ++i) {
    signature[i] = static_cast<std::byte>(kSignature[i]);
  }
  store.items_[kKeySignature] = FwCfgBytes(std::move(signature));
  store.items_[kKeyId] = le32_item(kIdTraditional | (dma ? kIdDma : 0));

  std::vector<std::byte> dir(4 + files_.size() * kFileDirEntrySize);
  put_be<uint32_t>(dir, 0, static_cast<uint32_t>(files_.size()));
  uint16_t key = kKeyFileFirst;
  std::size_t at = 4;
  for (auto& [name, bytes] : files_) {  // std::map: ascending name order
    put_be<uint32_t>(dir, at, static_cast<uint32_t>(bytes.size()));
    put_be<uint16_t>(dir, at + 4, key);
    for (std::size_t i = 0; i < name.size(); ++i) {  // the rest of name[56] stays zero
      dir[at + 8 + i] = static_cast<std::byte>(name[i]);
    }
    store.items_[key] = std::move(bytes);
    ++key;
    at += kFileDirEntrySize;
  }
  store.items_[kKeyFileDir] = FwCfgBytes(std::move(dir));
  files_.clear();
  return store;
}

FwCfgBytes le16_item(uint16_t value) { return le_item<uint16_t>(value); }
FwCfgBytes le32_item(uint32_t value) { return le_item<uint32_t>(value); }
FwCfgBytes le64_item(uint64_t value) { return le_item<uint64_t>(value); }

}  // namespace cvm::devices::fw_cfg
