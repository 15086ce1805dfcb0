// SPDX-License-Identifier: Apache-2.0
#include "guest.h"
bool test_vsock_echo(const struct guest_env* env, const char* name) { (void)env; return test_fail(name, "todo"); }
bool test_vsock_send(const struct guest_env* env, const char* name) { (void)env; return test_fail(name, "todo"); }
bool test_vsock_multi(const struct guest_env* env, const char* name) { (void)env; return test_fail(name, "todo"); }
bool test_vsock_noport(const struct guest_env* env, const char* name) { (void)env; return test_fail(name, "todo"); }
