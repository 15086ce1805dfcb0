// SPDX-License-Identifier: Apache-2.0
// What every test program gets: the command line and the virtio-mmio devices it names.
#ifndef CVMM_GUEST_GUEST_H
#define CVMM_GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

enum { kMaxDevices = 16 };

struct guest_env {
  const char* cmdline;
  struct virtio_mmio_device devices[kMaxDevices];  // probed, in command-line order
  size_t device_count;
};

/// The `nth` (0-based) device with `device_id`, or NULL.
const struct virtio_mmio_device* env_find_device(const struct guest_env* env,
                                                 uint32_t device_id, uint64_t nth);

/// Finds the virtio-mmio devices named on `cmdline` (printing a "CVMMTEST device" line for
/// each), runs the program `cvmmtest=` names, prints "CVMMTEST done pass|fail".
bool guest_run(const char* cmdline);

/// A test program: prints its CVMMTEST lines and returns true on success.
typedef bool (*test_program)(const struct guest_env* env, const char* name);

/// Prints "CVMMTEST <name> FAIL <reason>" and returns false (for `return fail(...)`).
bool test_fail(const char* name, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Programs (blk_tests.c, vsock_tests.c).
bool test_blk_rw(const struct guest_env* env, const char* name);
bool test_blk_ro(const struct guest_env* env, const char* name);
bool test_blk_id(const struct guest_env* env, const char* name);
bool test_vsock_echo(const struct guest_env* env, const char* name);
bool test_vsock_send(const struct guest_env* env, const char* name);
bool test_vsock_multi(const struct guest_env* env, const char* name);
bool test_vsock_noport(const struct guest_env* env, const char* name);
bool test_fw_cfg(const struct guest_env* env, const char* name);  // fw_cfg_tests.c

#endif
