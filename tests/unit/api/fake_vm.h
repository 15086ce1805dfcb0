// SPDX-License-Identifier: Apache-2.0
// A VmInstance that records what the API did to it, for tests without /dev/kvm. Its stop
// event is a real eventfd, so a poll loop sees a stop as it would a machine's.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "vmm/api/vmm_service.h"

namespace cvm::vmm::api::testing {

/// What the fake VMs did, shared with the test. Read it once the server has finished.
struct FakeLog {
  std::mutex mutex;  // request_stop() may come from a test thread playing the guest
  int created = 0;
  int started = 0;
  int finished = 0;
  std::vector<std::string> stop_reasons;
  std::vector<VmConfig> configs;
  bool fail_create = false;
  bool fail_start = false;
};

class FakeVm final : public VmInstance {
 public:
  explicit FakeVm(FakeLog& log) : log_(log), stop_event_(::eventfd(0, EFD_CLOEXEC)) {}
  Result<void> start() override {
    std::lock_guard lock(log_.mutex);
    ++log_.started;
    if (log_.fail_start) {
      return make_error(ErrorCode::kIo, "vcpu thread: Resource temporarily unavailable");
    }
    return ok();
  }
  int stop_event_fd() const override { return stop_event_.get(); }
  void request_stop(int status, std::string reason) override {
    std::lock_guard lock(log_.mutex);
    if (stopped_) {
      return;
    }
    stopped_ = true;
    status_ = status;
    log_.stop_reasons.push_back(std::move(reason));
    const uint64_t one = 1;
    (void)!::write(stop_event_.get(), &one, sizeof(one));
  }
  int finish() override {
    std::lock_guard lock(log_.mutex);
    ++log_.finished;
    return status_;
  }

 private:
  FakeLog& log_;
  UniqueFd stop_event_;
  bool stopped_ = false;
  int status_ = 0;
};

}  // namespace cvm::vmm::api::testing
