// SPDX-License-Identifier: Apache-2.0
#include "devices/rtc/cmos_rtc.h"

#include <time.h>

#include <algorithm>
#include <optional>

#include "base/rate_limited_log.h"

namespace cvm::devices::rtc {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t k64KiB = 64 * kKiB;
// IBM PC/AT CMOS map (QEMU hw/i386/pc.c pc_cmos_init() fills the same bytes).
constexpr uint8_t kBaseMemoryKiB = 0x15;       // 0x15 low, 0x16 high
constexpr uint8_t kExtendedMemoryKiB = 0x17;   // 0x17 low, 0x18 high
constexpr uint8_t kExtendedMemoryKiB2 = 0x30;  // 0x30 low, 0x31 high (same value)
constexpr uint8_t kChecksumHigh = 0x2e;        // checksum of 0x10-0x2d, 0x2e high, 0x2f low
constexpr uint8_t kMemoryAbove16M = 0x34;      // 0x34 low, 0x35 high, 64 KiB units
constexpr uint8_t kMemoryAbove4G = 0x5b;       // 0x5b, 0x5c, 0x5d, 64 KiB units
constexpr uint8_t kCpuCountMinusOne = 0x5f;
constexpr uint64_t kDataOffset = 1;

void store_le(std::array<uint8_t, kCmosBytes>& bytes, uint8_t index, uint64_t value,
              unsigned count) {
  for (unsigned i = 0; i < count; ++i) {
    bytes[index + i] = static_cast<uint8_t>(value >> (8 * i));
  }
}

std::optional<unsigned> decode_rtc_value(uint8_t value, uint8_t register_b) {
  if ((register_b & kRegisterBBinary) != 0) {
    return value;
  }
  const unsigned high = value >> 4;
  const unsigned low = value & 0x0f;
  if (high > 9 || low > 9) {
    return std::nullopt;
  }
  return high * 10 + low;
}

bool is_clock_register(uint8_t index) {
  switch (index) {
    case kRtcSeconds:
    case kRtcMinutes:
    case kRtcHours:
    case kRtcDayOfWeek:
    case kRtcDayOfMonth:
    case kRtcMonth:
    case kRtcYear:
    case kCmosCentury:
      return true;
    default:
      return false;
  }
}

uint8_t encode_hour(unsigned hour, uint8_t register_b) {
  if ((register_b & kRegisterB24Hour) != 0) {
    return encode_rtc_value(hour, register_b);
  }
  const unsigned twelve = hour % 12 == 0 ? 12 : hour % 12;
  return static_cast<uint8_t>(encode_rtc_value(twelve, register_b) | (hour >= 12 ? kHourPm : 0));
}

std::optional<unsigned> decode_hour(uint8_t value, uint8_t register_b) {
  if ((register_b & kRegisterB24Hour) != 0) {
    auto hour = decode_rtc_value(value, register_b);
    return hour && *hour < 24 ? hour : std::nullopt;
  }
  const auto twelve = decode_rtc_value(static_cast<uint8_t>(value & ~kHourPm), register_b);
  if (!twelve || *twelve < 1 || *twelve > 12) {
    return std::nullopt;
  }
  return *twelve % 12 + ((value & kHourPm) != 0 ? 12 : 0);
}

}  // namespace

std::array<uint8_t, kCmosBytes> initial_cmos_bytes(const CmosMemoryInfo& info) {
  std::array<uint8_t, kCmosBytes> bytes{};
  bytes[kRtcRegisterA] = kRegisterAReset;
  bytes[kRtcRegisterB] = kRegisterBReset;
  bytes[kRtcRegisterD] = kRegisterDValidRam;
  const uint64_t low = info.below_4g_bytes;
  store_le(bytes, kBaseMemoryKiB, std::min<uint64_t>(low / kKiB, 640), 2);
  const uint64_t extended = low > kMiB ? std::min<uint64_t>((low - kMiB) / kKiB, 0xffff) : 0;
  store_le(bytes, kExtendedMemoryKiB, extended, 2);
  store_le(bytes, kExtendedMemoryKiB2, extended, 2);
  const uint64_t above_16m =
      low > 16 * kMiB ? std::min<uint64_t>((low - 16 * kMiB) / k64KiB, 0xffff) : 0;
  store_le(bytes, kMemoryAbove16M, above_16m, 2);
  store_le(bytes, kMemoryAbove4G, std::min<uint64_t>(info.above_4g_bytes / k64KiB, 0xffffff), 3);
  bytes[kCpuCountMinusOne] = static_cast<uint8_t>(info.vcpu_count == 0 ? 0 : info.vcpu_count - 1);
  unsigned sum = 0;
  for (unsigned i = 0x10; i <= 0x2d; ++i) {
    sum += bytes[i];
  }
  bytes[kChecksumHigh] = static_cast<uint8_t>(sum >> 8);
  bytes[kChecksumHigh + 1] = static_cast<uint8_t>(sum);
  return bytes;
}

uint8_t encode_rtc_value(unsigned value, uint8_t register_b) noexcept {
  value %= 100;
  if ((register_b & kRegisterBBinary) != 0) {
    return static_cast<uint8_t>(value);
  }
  return static_cast<uint8_t>(((value / 10) << 4) | (value % 10));
}

int64_t CmosRtc::host_realtime_seconds() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return now.tv_sec;
}

CmosRtc::CmosRtc(const CmosMemoryInfo& info, Clock clock)
    : clock_(clock), bytes_(initial_cmos_bytes(info)) {}

void CmosRtc::read(uint64_t offset, std::span<std::byte> data) {
  if (data.empty()) {
    return;
  }
  std::fill(data.begin(), data.end(), std::byte{0xff});
  if (offset != kDataOffset) {
    return;  // the index port is write-only; reads float high as on QEMU
  }
  std::lock_guard lock(mutex_);
  data[0] = std::byte{read_data_locked()};
}

void CmosRtc::write(uint64_t offset, std::span<const std::byte> data) {
  if (data.empty() || offset > kDataOffset) {
    return;
  }
  const auto value = static_cast<uint8_t>(data[0]);
  std::lock_guard lock(mutex_);
  if (offset == 0) {
    index_ = value & kCmosIndexMask;  // bit 7 (NMI disable) has no NMI source to mask here
    return;
  }
  write_data_locked(value);
}

uint8_t CmosRtc::read_data_locked() {
  const uint8_t mode = bytes_[kRtcRegisterB];
  if (!is_clock_register(index_)) {
    switch (index_) {
      case kRtcRegisterA:
        return static_cast<uint8_t>(bytes_[kRtcRegisterA] & ~kRegisterAUpdateInProgress);
      case kRtcRegisterC:
        return 0;
      case kRtcRegisterD:
        return kRegisterDValidRam;
      default:
        return bytes_[index_];
    }
  }
  const time_t now = static_cast<time_t>(clock_() + offset_seconds_);
  tm fields{};
  ::gmtime_r(&now, &fields);
  const unsigned year = static_cast<unsigned>(fields.tm_year + 1900);
  switch (index_) {
    case kRtcSeconds:
      return encode_rtc_value(static_cast<unsigned>(fields.tm_sec), mode);
    case kRtcMinutes:
      return encode_rtc_value(static_cast<unsigned>(fields.tm_min), mode);
    case kRtcHours:
      return encode_hour(static_cast<unsigned>(fields.tm_hour), mode);
    case kRtcDayOfWeek:
      return encode_rtc_value(static_cast<unsigned>(fields.tm_wday + 1), mode);
    case kRtcDayOfMonth:
      return encode_rtc_value(static_cast<unsigned>(fields.tm_mday), mode);
    case kRtcMonth:
      return encode_rtc_value(static_cast<unsigned>(fields.tm_mon + 1), mode);
    case kRtcYear:
      return encode_rtc_value(year % 100, mode);
    default:  // kCmosCentury
      return encode_rtc_value(year / 100, mode);
  }
}

void CmosRtc::write_data_locked(uint8_t value) {
  switch (index_) {
    case kRtcRegisterA:
      bytes_[kRtcRegisterA] = static_cast<uint8_t>(value & ~kRegisterAUpdateInProgress);
      return;
    case kRtcRegisterC:
    case kRtcRegisterD:
      return;  // read-only
    default:
      break;
  }
  if (is_clock_register(index_)) {
    set_clock_field_locked(index_, value);
    return;
  }
  bytes_[index_] = value;
}

void CmosRtc::set_clock_field_locked(uint8_t index, uint8_t value) {
  const uint8_t mode = bytes_[kRtcRegisterB];
  const int64_t host = clock_();
  const time_t now = static_cast<time_t>(host + offset_seconds_);
  tm fields{};
  ::gmtime_r(&now, &fields);
  const auto decoded =
      index == kRtcHours ? decode_hour(value, mode) : decode_rtc_value(value, mode);
  const int year = fields.tm_year + 1900;
  bool valid = decoded.has_value();
  if (valid) {
    const int v = static_cast<int>(*decoded);
    switch (index) {
      case kRtcSeconds:
        valid = v < 60;
        fields.tm_sec = v;
        break;
      case kRtcMinutes:
        valid = v < 60;
        fields.tm_min = v;
        break;
      case kRtcHours:
        fields.tm_hour = v;
        break;
      case kRtcDayOfMonth:
        valid = v >= 1 && v <= 31;
        fields.tm_mday = v;
        break;
      case kRtcMonth:
        valid = v >= 1 && v <= 12;
        fields.tm_mon = v - 1;
        break;
      case kRtcYear:
        fields.tm_year = year / 100 * 100 + v - 1900;
        break;
      case kCmosCentury:
        fields.tm_year = v * 100 + year % 100 - 1900;
        break;
      default:  // day of week: derived from the date, nothing to store
        return;
    }
  }
  if (!valid) {
    CVM_LOG_RATE_LIMITED(5, "cmos: ignoring invalid value {:#04x} for clock register {:#04x}",
                         value, index);
    return;
  }
  offset_seconds_ = static_cast<int64_t>(::timegm(&fields)) - host;
}

}  // namespace cvm::devices::rtc
