// SPDX-License-Identifier: Apache-2.0
// The writing half of json.h: VmConfig -> canonical JSON, and JSON-path field names.
#include <boost/json.hpp>

#include "vmm/config/json.h"
#include "vmm/config/value_parsers.h"

namespace cvm::vmm::config {
namespace {

namespace json = boost::json;

json::object payload_to_json(const VmConfig& config) {
  const PayloadConfig& payload = config.payload;
  json::object out;
  if (!payload.kernel.empty()) {
    out["kernel"] = payload.kernel;
  }
  if (payload.initramfs) {
    out["initramfs"] = *payload.initramfs;
  }
  out["cmdline"] = payload.cmdline;
  if (payload.firmware) {
    out["firmware"] = *payload.firmware;
  }
  if (!config.platform.host_data.empty()) {
    out["host_data"] = bytes_to_hex(config.platform.host_data);
  }
  if (!config.platform.mrconfigid.empty()) {
    out["mrconfigid"] = bytes_to_hex(config.platform.mrconfigid);
  }
  if (!config.platform.mrowner.empty()) {
    out["mrowner"] = bytes_to_hex(config.platform.mrowner);
  }
  if (!config.platform.mrownerconfig.empty()) {
    out["mrownerconfig"] = bytes_to_hex(config.platform.mrownerconfig);
  }
  return out;
}

std::string_view serial_mode_name(SerialMode mode) {
  switch (mode) {
    case SerialMode::kTty:
      return "Tty";
    case SerialMode::kFile:
      return "File";
    case SerialMode::kOff:
      return "Off";
  }
  return "Off";
}

json::object serial_to_json(const SerialConfig& serial) {
  json::object out;
  out["mode"] = serial_mode_name(serial.mode);
  if (!serial.file.empty()) {
    out["file"] = serial.file;
  }
  return out;
}

json::array disks_to_json(const std::vector<DiskConfig>& disks) {
  json::array out;
  for (const DiskConfig& disk : disks) {
    json::object entry;
    entry["path"] = disk.path;
    entry["readonly"] = disk.readonly;
    if (!disk.id.empty()) {
      entry["id"] = disk.id;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

json::object platform_to_json(const PlatformConfig& platform) {
  json::object out;
  out["tdx"] = platform.tee == TeeKind::kTdx;
  out["sev_snp"] = platform.tee == TeeKind::kSevSnp;
  if (platform.snp_policy) {
    out["snp_policy"] = fmt::format("{:#x}", *platform.snp_policy);
  }
  if (!platform.quote_socket.empty()) {
    out["quote_socket"] = platform.quote_socket;
  }
  if (!platform.snp_vcpu_model.empty()) {
    out["snp_vcpu_model"] = platform.snp_vcpu_model;
  }
  if (!platform.snp_certs.empty()) {
    out["snp_certs"] = platform.snp_certs;
  }
  if (platform.snp_vmsa_features) {
    out["snp_vmsa_features"] = fmt::format("{:#x}", *platform.snp_vmsa_features);
  }
  if (!platform.snp_id_block.empty()) {
    out["snp_id_block"] = bytes_to_hex(platform.snp_id_block);
  }
  if (!platform.snp_id_auth.empty()) {
    out["snp_id_auth"] = bytes_to_hex(platform.snp_id_auth);
  }
  if (platform.snp_author_key_enabled) {
    out["snp_author_key"] = true;
  }
  if (platform.tsc_khz) {
    out["tsc_khz"] = *platform.tsc_khz;
  }
  return out;
}

}  // namespace

json::value config_to_json_value(const VmConfig& config) {
  json::object root;
  root["payload"] = payload_to_json(config);
  root["cpus"] = json::object{{"boot_vcpus", config.cpus.boot_vcpus}};
  root["memory"] = json::object{{"size", config.memory.size_bytes},
                                {"guest_memfd", config.memory.guest_memfd},
                                {"hugepages", config.memory.hugepages}};
  root["serial"] = serial_to_json(config.serial);
  if (!config.disks.empty()) {
    root["disks"] = disks_to_json(config.disks);
  }
  if (config.vsock) {
    root["vsock"] = json::object{{"cid", config.vsock->cid}, {"socket", config.vsock->socket}};
  }
  root["platform"] = platform_to_json(config.platform);
  return root;
}

std::string config_to_json(const VmConfig& config) {
  return json::serialize(config_to_json_value(config));
}

std::string json_field_name(ConfigField field, std::size_t index) {
  switch (field) {
    case ConfigField::kKernel:
      return "payload.kernel";
    case ConfigField::kInitramfs:
      return "payload.initramfs";
    case ConfigField::kCmdline:
      return "payload.cmdline";
    case ConfigField::kFirmware:
      return "payload.firmware";
    case ConfigField::kBootVcpus:
      return "cpus.boot_vcpus";
    case ConfigField::kMemorySize:
      return "memory.size";
    case ConfigField::kGuestMemfd:
      return "memory.guest_memfd";
    case ConfigField::kHugepages:
      return "memory.hugepages";
    case ConfigField::kSerialMode:
      return "serial.mode";
    case ConfigField::kSerialFile:
      return "serial.file";
    case ConfigField::kDiskPath:
      return fmt::format("disks[{}].path", index);
    case ConfigField::kDiskId:
      return fmt::format("disks[{}].id", index);
    case ConfigField::kVsockCid:
      return "vsock.cid";
    case ConfigField::kVsockSocket:
      return "vsock.socket";
    case ConfigField::kTdx:
      return "platform.tdx";
    case ConfigField::kSevSnp:
      return "platform.sev_snp";
    case ConfigField::kSnpPolicy:
      return "platform.snp_policy";
    case ConfigField::kHostData:
      return "payload.host_data";
    case ConfigField::kMrConfigId:
      return "payload.mrconfigid";
    case ConfigField::kMrOwner:
      return "payload.mrowner";
    case ConfigField::kMrOwnerConfig:
      return "payload.mrownerconfig";
    case ConfigField::kQuoteSocket:
      return "platform.quote_socket";
    case ConfigField::kSnpVcpuModel:
      return "platform.snp_vcpu_model";
    case ConfigField::kSnpVmsaFeatures:
      return "platform.snp_vmsa_features";
    case ConfigField::kSnpIdBlock:
      return "platform.snp_id_block";
    case ConfigField::kSnpIdAuth:
      return "platform.snp_id_auth";
    case ConfigField::kSnpAuthorKey:
      return "platform.snp_author_key";
    case ConfigField::kSnpCerts:
      return "platform.snp_certs";
    case ConfigField::kTscKhz:
      return "platform.tsc_khz";
  }
  return "?";
}

}  // namespace cvm::vmm::config
