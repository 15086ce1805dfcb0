// SPDX-License-Identifier: Apache-2.0
// The fw-cfg program: reads the fw_cfg signature, ID, DMA signature and file directory, then
// the file named by fwcfg.file= through the data port, through DMA (with zero-fill past the
// end), through DMA after a skip, and tries a DMA write (which must be refused).
#include "checksum.h"
#include "cmdline.h"
#include "fw_cfg.h"
#include "guest.h"
#include "lib.h"

enum { kMaxFiles = 64, kBufferBytes = 64 * 1024, kTail = 16 };

static struct fw_cfg_file g_files[kMaxFiles];
static uint8_t g_buffer[kBufferBytes + kTail];

static void print_sha(const char* name, const char* what, const void* data, size_t len) {
  struct sha256 h;
  uint8_t digest[32];
  char hex[65];
  sha256_init(&h);
  sha256_update(&h, data, len);
  sha256_final(&h, digest);
  hex_encode(digest, 32, hex);
  hex[64] = 0;
  guest_printf("CVMMTEST %s %s size=%u sha256=%s\n", name, what, (unsigned)len, hex);
}

static const struct fw_cfg_file* find_file(uint32_t count, const char* want, size_t want_len) {
  for (uint32_t i = 0; i < count && i < kMaxFiles; ++i) {
    if (span_equals(want, want_len, g_files[i].name)) {
      return &g_files[i];
    }
  }
  return NULL;
}

static bool check_dma(const char* name, const struct fw_cfg_file* file) {
  memset(g_buffer, 0xaa, sizeof(g_buffer));
  uint32_t status = fw_cfg_dma(file->key, kFwCfgDmaCtlSelect | kFwCfgDmaCtlRead, g_buffer,
                               file->size + kTail);
  bool tail_zero = true;
  for (uint32_t i = 0; i < kTail; ++i) {
    tail_zero = tail_zero && g_buffer[file->size + i] == 0;
  }
  guest_printf("CVMMTEST %s dma status=%#x tail-zero=%d\n", name, status, tail_zero ? 1 : 0);
  print_sha(name, "dma", g_buffer, file->size);
  const uint32_t skip = file->size < 3 ? file->size : 3;
  status = fw_cfg_dma(file->key, kFwCfgDmaCtlSelect | kFwCfgDmaCtlSkip, NULL, skip);
  status |= fw_cfg_dma(0, kFwCfgDmaCtlRead, g_buffer, file->size - skip);
  guest_printf("CVMMTEST %s dma-skip skip=%u status=%#x\n", name, skip, status);
  print_sha(name, "after-skip", g_buffer, file->size - skip);
  status = fw_cfg_dma(file->key, kFwCfgDmaCtlSelect | kFwCfgDmaCtlWrite, g_buffer, 1);
  guest_printf("CVMMTEST %s dma-write status=%#x\n", name, status);
  return tail_zero;
}

bool test_fw_cfg(const struct guest_env* env, const char* name) {
  char signature[5] = {0};
  uint32_t id = 0;
  char dma_signature[9] = {0};
  fw_cfg_select(kFwCfgKeySignature);
  fw_cfg_read_port(signature, 4);
  fw_cfg_select(kFwCfgKeyId);
  fw_cfg_read_port(&id, 4);
  fw_cfg_dma_signature(dma_signature);
  guest_printf("CVMMTEST %s signature=%s id=%#x\n", name, signature, id);
  guest_printf("CVMMTEST %s dma-register=%s\n", name, dma_signature);
  if (memcmp(signature, "QEMU", 4) != 0) {
    return test_fail(name, "no fw_cfg signature");
  }
  const uint32_t count = fw_cfg_directory(g_files, kMaxFiles);
  guest_printf("CVMMTEST %s files=%u\n", name, count);
  for (uint32_t i = 0; i < count && i < kMaxFiles; ++i) {
    guest_printf("CVMMTEST %s file name=%s key=%#x size=%u\n", name, g_files[i].name,
                 g_files[i].key, g_files[i].size);
  }
  size_t want_len = 0;
  const char* want = cmdline_value(env->cmdline, "fwcfg.file", &want_len);
  const struct fw_cfg_file* file = want ? find_file(count, want, want_len) : NULL;
  if (file == NULL) {
    return test_fail(name, "fwcfg.file= names no file in the directory");
  }
  if (file->size > kBufferBytes) {
    return test_fail(name, "file of %u bytes exceeds the test buffer", file->size);
  }
  fw_cfg_select(file->key);
  fw_cfg_read_port(g_buffer, file->size);
  print_sha(name, "port", g_buffer, file->size);
  if ((id & 2) != 0 && !check_dma(name, file)) {
    return test_fail(name, "DMA read past the end did not zero-fill");
  }
  guest_printf("CVMMTEST %s ok\n", name);
  return true;
}
