// SPDX-License-Identifier: Apache-2.0
// Device discovery, the program table and the helpers every program uses. Kept apart from
// main.c (entry, IDT, power-off), so the hosted driver tests can run the same programs.
#include <stdarg.h>

#include "bench.h"
#include "cmdline.h"
#include "guest.h"
#include "lib.h"

const struct virtio_mmio_device* env_find_device(const struct guest_env* env,
                                                 uint32_t device_id, uint64_t nth) {
  for (size_t i = 0; i < env->device_count; ++i) {
    if (env->devices[i].device_id == device_id && nth-- == 0) {
      return &env->devices[i];
    }
  }
  return NULL;
}

bool test_fail(const char* name, const char* format, ...) {
  guest_printf("CVMMTEST %s FAIL ", name);
  va_list args;
  va_start(args, format);
  guest_vprintf(format, args);
  va_end(args);
  guest_printf("\n");
  return false;
}

static void discover_devices(struct guest_env* env) {
  struct mmio_device_arg args[kMaxDevices];
  const size_t count = cmdline_virtio_devices(env->cmdline, args, kMaxDevices);
  for (size_t i = 0; i < count; ++i) {
    struct virtio_mmio_device* dev = &env->devices[env->device_count];
    if (!virtio_mmio_probe(dev, (uintptr_t)args[i].base, args[i].irq)) {
      continue;
    }
    if (dev->device_id == 0) {
      // §4.2.3.1.1: DeviceID 0 is an empty slot; no other register may be touched.
      guest_printf("cvmm-guest: %p: no device (DeviceID 0)\n", (void*)dev->base);
      continue;
    }
    guest_printf("CVMMTEST device index=%u id=%u base=%#lx irq=%u\n",
                 (unsigned)env->device_count, dev->device_id, (uint64_t)dev->base, dev->irq);
    env->device_count++;
  }
}

struct program_entry {
  const char* name;
  test_program run;
};

static const struct program_entry kPrograms[] = {
    {"blk-rw", test_blk_rw},           {"blk-ro", test_blk_ro},
    {"blk-id", test_blk_id},           {"vsock-echo", test_vsock_echo},
    {"vsock-send", test_vsock_send},   {"vsock-multi", test_vsock_multi},
    {"vsock-noport", test_vsock_noport},
    {"fw-cfg", test_fw_cfg},
    {"blk-bench", test_blk_bench},     {"vsock-bench", test_vsock_bench},
};

static bool run_program(const struct guest_env* env) {
  size_t len = 0;
  const char* name = cmdline_value(env->cmdline, "cvmmtest", &len);
  if (name == NULL) {
    return test_fail("main", "no cvmmtest=<name> argument");
  }
  for (size_t i = 0; i < sizeof(kPrograms) / sizeof(kPrograms[0]); ++i) {
    if (span_equals(name, len, kPrograms[i].name)) {
      return kPrograms[i].run(env, kPrograms[i].name);
    }
  }
  return test_fail("main", "unknown program %.*s", (int)len, name);
}

bool guest_run(const char* cmdline) {
  static struct guest_env env;
  memset(&env, 0, sizeof(env));
  env.cmdline = cmdline;
  discover_devices(&env);
  const bool passed = run_program(&env);
  guest_printf("CVMMTEST done %s\n", passed ? "pass" : "fail");
  return passed;
}
