// SPDX-License-Identifier: Apache-2.0
// The one place in cvmm that declares KVM UAPI items which Debian 12's linux-libc-dev 6.1
// <linux/kvm.h> lacks (architecture-anchors §B.1). Everything else in the tree includes this
// header instead of <linux/kvm.h> directly.
//
// Source of every value and layout: Linux include/uapi/linux/kvm.h and
// arch/x86/include/uapi/asm/kvm.h as synced into QEMU linux-headers/ (≈6.18/6.19), as
// tabulated in docs tee-kvm-reference.md §1-§3. Each group is guarded by a macro that the
// same kernel header version defines, so a newer <linux/kvm.h> wins and our static_asserts
// then check that its layout still matches what we rely on.
//
// Included by vmm/kvm, vmm/<tee> and vmm core. Never by devices/ or firmware/.
#pragma once

// Debian's 6.1 <linux/stddef.h> declares __DECLARE_FLEX_ARRAY as `struct { struct {} __empty;
// T name[]; }`. In C++ an empty struct has size 1, so kvm_cpuid2, kvm_msrs, kvm_irq_routing, ...
// grow by 4-8 bytes, their flexible arrays move, and the ioctl numbers that encode their sizes
// (KVM_SET_CPUID2 becomes 0x400CAE90 instead of 0x4008AE90) are wrong. Upstream fixed this
// (a plain zero-length array under __cplusplus); we apply the same definition before
// <linux/kvm.h> is parsed. The static_asserts below catch any include-order mistake.
#include <linux/stddef.h>
#if defined(__cplusplus)
#undef __DECLARE_FLEX_ARRAY
#define __DECLARE_FLEX_ARRAY(TYPE, NAME) TYPE NAME[0]
#endif

#include <linux/kvm.h>
#include <linux/kvm_para.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

// Detect the header groups of newer kernels *before* we define any of their macros.
#if defined(KVM_X86_SNP_VM)
#define CVM_UAPI_HAS_SNP 1  // 6.11+: SNP enumerators and structs in <asm/kvm.h>
#endif
#if defined(KVM_X86_SEV_VMSA_FEATURES)
#define CVM_UAPI_HAS_SEV_INIT2 1  // 6.10+: KVM_SEV_INIT2 and struct kvm_sev_init
#endif
#if defined(KVM_X86_TDX_VM)
#define CVM_UAPI_HAS_TDX 1  // 6.16+: TDX enumerators and structs in <asm/kvm.h>
#endif
#if defined(KVM_X86_SEV_SNP_REQ_CERTS)
#define CVM_UAPI_HAS_SNP_REQ_CERTS 1  // ≈7.0: KVM_SEV_SNP_ENABLE_REQ_CERTS in enum sev_cmd_id
#endif

// ---- Capabilities (tee-kvm-reference.md §1.2) -------------------------------------------
#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2 231
#define KVM_CAP_MEMORY_FAULT_INFO 232
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#define KVM_CAP_GUEST_MEMFD 234
#define KVM_CAP_VM_TYPES 235
#endif
#ifndef KVM_CAP_PRE_FAULT_MEMORY
#define KVM_CAP_PRE_FAULT_MEMORY 236
#endif
#ifndef KVM_CAP_X86_APIC_BUS_CYCLES_NS
#define KVM_CAP_X86_APIC_BUS_CYCLES_NS 237
#endif
#ifndef KVM_CAP_GUEST_MEMFD_FLAGS
#define KVM_CAP_GUEST_MEMFD_FLAGS 244
#endif
static_assert(KVM_CAP_SPLIT_IRQCHIP == 121 && KVM_CAP_X2APIC_API == 129);
static_assert(KVM_CAP_IMMEDIATE_EXIT == 136 && KVM_CAP_EXIT_HYPERCALL == 201);
static_assert(KVM_CAP_VM_TSC_CONTROL == 214);
static_assert(KVM_CAP_USER_MEMORY2 == 231 && KVM_CAP_MEMORY_ATTRIBUTES == 233);
static_assert(KVM_CAP_GUEST_MEMFD == 234 && KVM_CAP_VM_TYPES == 235);

// ---- x86 VM types for KVM_CREATE_VM (§1.2; arch/x86/include/uapi/asm/kvm.h) --------------
#ifndef KVM_X86_DEFAULT_VM
#define KVM_X86_DEFAULT_VM 0
#endif
#ifndef KVM_X86_SW_PROTECTED_VM
#define KVM_X86_SW_PROTECTED_VM 1
#endif
#ifndef KVM_X86_SEV_VM
#define KVM_X86_SEV_VM 2
#define KVM_X86_SEV_ES_VM 3
#endif
#ifndef KVM_X86_SNP_VM
#define KVM_X86_SNP_VM 4
#endif
#ifndef KVM_X86_TDX_VM
#define KVM_X86_TDX_VM 5
#endif
static_assert(KVM_X86_DEFAULT_VM == 0 && KVM_X86_SW_PROTECTED_VM == 1 && KVM_X86_SEV_VM == 2);
static_assert(KVM_X86_SEV_ES_VM == 3 && KVM_X86_SNP_VM == 4 && KVM_X86_TDX_VM == 5);

// ---- guest_memfd (§1.3), 6.8+ --------------------------------------------------------------
#ifndef KVM_CREATE_GUEST_MEMFD
struct kvm_create_guest_memfd {
  __u64 size;         // @0  bytes, page-aligned, non-zero
  __u64 flags;        // @8  GUEST_MEMFD_FLAG_*
  __u64 reserved[6];  // @16 must be zero
};
#define KVM_CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
#endif
#ifndef GUEST_MEMFD_FLAG_MMAP
// ≈6.18: host-mmap()able guest_memfd, and memory that starts shared (readable by the host).
#define GUEST_MEMFD_FLAG_MMAP (1ULL << 0)
#define GUEST_MEMFD_FLAG_INIT_SHARED (1ULL << 1)
#endif
static_assert(sizeof(kvm_create_guest_memfd) == 64);
static_assert(offsetof(kvm_create_guest_memfd, flags) == 8);
static_assert(offsetof(kvm_create_guest_memfd, reserved) == 16);
static_assert(KVM_CREATE_GUEST_MEMFD == 0xC040AED4);
static_assert(GUEST_MEMFD_FLAG_MMAP == 1 && GUEST_MEMFD_FLAG_INIT_SHARED == 2);

// ---- KVM_SET_USER_MEMORY_REGION2 (§1.4), 6.8+ -------------------------------------------
#ifndef KVM_SET_USER_MEMORY_REGION2
struct kvm_userspace_memory_region2 {
  __u32 slot;                // @0  bits 16..31 = address space
  __u32 flags;               // @4  KVM_MEM_*
  __u64 guest_phys_addr;     // @8
  __u64 memory_size;         // @16 bytes
  __u64 userspace_addr;      // @24 the shared (host-visible) backing
  __u64 guest_memfd_offset;  // @32
  __u32 guest_memfd;         // @40 fd from KVM_CREATE_GUEST_MEMFD
  __u32 pad1;                // @44
  __u64 pad2[14];            // @48 zero
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#endif
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD (1UL << 2)
#endif
static_assert(sizeof(kvm_userspace_memory_region2) == 160);
static_assert(offsetof(kvm_userspace_memory_region2, guest_phys_addr) == 8);
static_assert(offsetof(kvm_userspace_memory_region2, userspace_addr) == 24);
static_assert(offsetof(kvm_userspace_memory_region2, guest_memfd_offset) == 32);
static_assert(offsetof(kvm_userspace_memory_region2, guest_memfd) == 40);
static_assert(offsetof(kvm_userspace_memory_region2, pad2) == 48);
static_assert(KVM_SET_USER_MEMORY_REGION2 == 0x40A0AE49);
static_assert(KVM_MEM_LOG_DIRTY_PAGES == 1 && KVM_MEM_READONLY == 2 && KVM_MEM_GUEST_MEMFD == 4);
static_assert(sizeof(kvm_userspace_memory_region) == 32);
static_assert(KVM_SET_USER_MEMORY_REGION == 0x4020AE46);

// ---- KVM_SET_MEMORY_ATTRIBUTES (§1.5), 6.8+ ----------------------------------------------
#ifndef KVM_SET_MEMORY_ATTRIBUTES
struct kvm_memory_attributes {
  __u64 address;     // @0  GPA, page-aligned
  __u64 size;        // @8  page-aligned, non-zero
  __u64 attributes;  // @16 KVM_MEMORY_ATTRIBUTE_PRIVATE or 0 (shared)
  __u64 flags;       // @24 must be 0
};
#define KVM_SET_MEMORY_ATTRIBUTES _IOW(KVMIO, 0xd2, struct kvm_memory_attributes)
#endif
#ifndef KVM_MEMORY_ATTRIBUTE_PRIVATE
#define KVM_MEMORY_ATTRIBUTE_PRIVATE (1ULL << 3)
#endif
static_assert(sizeof(kvm_memory_attributes) == 32);
static_assert(offsetof(kvm_memory_attributes, attributes) == 16);
static_assert(KVM_SET_MEMORY_ATTRIBUTES == 0x4020AED2);
static_assert(KVM_MEMORY_ATTRIBUTE_PRIVATE == 8);

// ---- KVM_PRE_FAULT_MEMORY (§1.1), 6.10+ --------------------------------------------------
#ifndef KVM_PRE_FAULT_MEMORY
struct kvm_pre_fault_memory {
  __u64 gpa;         // @0
  __u64 size;        // @8
  __u64 flags;       // @16 must be 0
  __u64 padding[5];  // @24
};
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif
static_assert(sizeof(kvm_pre_fault_memory) == 64);
static_assert(KVM_PRE_FAULT_MEMORY == 0xC040AED5);

// ---- Exits (§1.6-§1.8) -------------------------------------------------------------------
#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT 39
#endif
#ifndef KVM_MEMORY_EXIT_FLAG_PRIVATE
#define KVM_MEMORY_EXIT_FLAG_PRIVATE (1ULL << 3)
#endif
#ifndef KVM_EXIT_TDX
#define KVM_EXIT_TDX 40
#endif
#ifndef KVM_SYSTEM_EVENT_TDX_FATAL
#define KVM_SYSTEM_EVENT_TDX_FATAL 7
#endif
#ifndef KVM_EXIT_HYPERCALL_LONG_MODE
#define KVM_EXIT_HYPERCALL_LONG_MODE (1ULL << 0)
#endif
// KVM_EXIT_SNP_REQ_CERTS (tee-kvm-reference §3.11, §5.1): the number moved while the series
// was reviewed (40, then 42 in kvm-x86 commit fa9893fadbc2 "KVM: Introduce
// KVM_EXIT_SNP_REQ_CERTS for SNP certificate-fetching", applied after KVM_EXIT_ARM_SEA = 41);
// in mainline (≈7.0) KVM_EXIT_ARM_LDST64B took 42 and include/uapi/linux/kvm.h has
// KVM_EXIT_SNP_REQ_CERTS = 43, as every later patch against mainline's kvm.h shows. A newer
// <linux/kvm.h> wins, and the static_assert then checks it agrees.
#ifndef KVM_EXIT_SNP_REQ_CERTS
#define KVM_EXIT_SNP_REQ_CERTS 43
#endif
static_assert(KVM_EXIT_MEMORY_FAULT == 39 && KVM_EXIT_TDX == 40);
static_assert(KVM_EXIT_SNP_REQ_CERTS == 43);
static_assert(KVM_SYSTEM_EVENT_SEV_TERM == 6 && KVM_SYSTEM_EVENT_TDX_FATAL == 7);
static_assert(KVM_HC_MAP_GPA_RANGE == 12 && KVM_MAP_GPA_RANGE_ENCRYPTED == 16);

// kvm_run: the exit union starts at byte 32 and is 256 bytes (§1.8).
static_assert(offsetof(kvm_run, exit_reason) == 8);
static_assert(offsetof(kvm_run, hw) == 32);
static_assert(offsetof(kvm_run, kvm_valid_regs) == 32 + 256);
static_assert(offsetof(kvm_run, hypercall.ret) == 32 + 56);
static_assert(offsetof(kvm_run, system_event.data) == 32 + 8);
static_assert(offsetof(kvm_run, emulation_failure.insn_bytes) == 32 + 17);

namespace cvm::kvm {

/// Offset of the exit-information union inside struct kvm_run.
inline constexpr std::size_t kKvmRunExitUnionOffset = 32;

/// kvm_run.memory_fault (exit 39), overlaid on the union at offset 32; the 6.1 kvm_run lacks
/// the member, so readers memcpy these 24 bytes out of the union.
struct MemoryFaultExit {
  uint64_t flags;  // @0 KVM_MEMORY_EXIT_FLAG_PRIVATE: the guest accessed the range as private
  uint64_t gpa;    // @8
  uint64_t size;   // @16
};
static_assert(sizeof(MemoryFaultExit) == 24);

/// kvm_run.tdx (exit 40), overlaid on the union (§2.10). `data` holds the leaf-specific
/// fields that follow `ret` (GetQuote: gpa, size; GetTdVmCallInfo: leaf, r11..r14; ...).
struct TdxExit {
  uint64_t flags;    // @0 currently 0
  uint64_t nr;       // @8 TDVMCALL leaf (guest R11)
  uint64_t ret;      // @16 written by userspace (TDVMCALL status)
  uint64_t data[5];  // @24
};
static_assert(sizeof(TdxExit) == 64);

/// kvm_run.snp_req_certs (exit 43, struct kvm_exit_snp_req_certs), overlaid on the union at
/// offset 32 (Documentation/virt/kvm/api.rst, KVM_EXIT_SNP_REQ_CERTS). `gpa` and `npages` are
/// the guest's RAX/RBX of the Extended Guest Request, forwarded verbatim (KVM only checks that
/// `gpa` is 4 KiB aligned); userspace writes `ret` (0, ENOSPC, EAGAIN or EIO) and, with
/// ENOSPC, `npages` = the pages the certificate data needs. Any other `ret` makes the next
/// KVM_RUN fail with EINVAL.
struct SnpReqCertsExit {
  uint64_t gpa;     // @0  guest buffer for the certificate table (shared memory)
  uint64_t npages;  // @8  its size in 4 KiB pages; in/out
  uint64_t ret;     // @16 0 on exit; written by userspace
};
static_assert(sizeof(SnpReqCertsExit) == 24);
static_assert(offsetof(SnpReqCertsExit, ret) == 16);

}  // namespace cvm::kvm

// ---- KVM_MEMORY_ENCRYPT_OP and device attributes (§1.1) ----------------------------------
static_assert(KVM_MEMORY_ENCRYPT_OP == 0xC008AEBA);  // encodes `unsigned long`, takes a pointer
static_assert(KVM_MEMORY_ENCRYPT_REG_REGION == 0x8010AEBB);
static_assert(sizeof(kvm_device_attr) == 24);
static_assert(KVM_GET_DEVICE_ATTR == 0x4018AEE2 && KVM_HAS_DEVICE_ATTR == 0x4018AEE3);

// ---- Intel TDX (§2.1-§2.4), 6.16+ ---------------------------------------------------------
#ifndef CVM_UAPI_HAS_TDX
/// Subcommand ids in kvm_tdx_cmd.id (§2.1). KVM_TDX_TERMINATE_VM is deliberately absent (§5.2).
enum kvm_tdx_cmd_id {
  KVM_TDX_CAPABILITIES = 0,
  KVM_TDX_INIT_VM = 1,
  KVM_TDX_INIT_VCPU = 2,
  KVM_TDX_INIT_MEM_REGION = 3,
  KVM_TDX_FINALIZE_VM = 4,
  KVM_TDX_GET_CPUID = 5,
  KVM_TDX_CMD_NR_MAX,
};

struct kvm_tdx_cmd {
  __u32 id;        // @0  enum kvm_tdx_cmd_id
  __u32 flags;     // @4  per subcommand, else 0
  __u64 data;      // @8  pointer or immediate
  __u64 hw_error;  // @16 out: SEAMCALL status on failure
};

struct kvm_tdx_capabilities {
  __u64 supported_attrs;             // @0
  __u64 supported_xfam;              // @8
  __u64 kernel_tdvmcallinfo_1_r11;   // @16
  __u64 user_tdvmcallinfo_1_r11;     // @24
  __u64 kernel_tdvmcallinfo_1_r12;   // @32
  __u64 user_tdvmcallinfo_1_r12;     // @40
  __u64 reserved[250];               // @48
  struct kvm_cpuid2 cpuid;           // @2048 header; configurable entries follow
};

struct kvm_tdx_init_vm {
  __u64 attributes;        // @0   TD attributes (subset of supported_attrs)
  __u64 xfam;              // @8
  __u64 mrconfigid[6];     // @16  48 bytes
  __u64 mrowner[6];        // @64
  __u64 mrownerconfig[6];  // @112
  __u64 reserved[12];      // @160
  struct kvm_cpuid2 cpuid; // @256 header; entries follow
};

#define KVM_TDX_MEASURE_MEMORY_REGION (1ULL << 0)

struct kvm_tdx_init_mem_region {
  __u64 source_addr;  // @0  host VA of the initial content, page-aligned
  __u64 gpa;          // @8  private GPA without the shared bit
  __u64 nr_pages;     // @16
};
#endif  // CVM_UAPI_HAS_TDX
static_assert(KVM_TDX_CAPABILITIES == 0 && KVM_TDX_INIT_VM == 1 && KVM_TDX_INIT_VCPU == 2);
static_assert(KVM_TDX_INIT_MEM_REGION == 3 && KVM_TDX_FINALIZE_VM == 4 && KVM_TDX_GET_CPUID == 5);
static_assert(sizeof(kvm_tdx_cmd) == 24 && offsetof(kvm_tdx_cmd, hw_error) == 16);
static_assert(sizeof(kvm_tdx_capabilities) == 2056);
static_assert(offsetof(kvm_tdx_capabilities, reserved) == 48);
static_assert(offsetof(kvm_tdx_capabilities, cpuid) == 2048);
static_assert(sizeof(kvm_tdx_init_vm) == 264 && offsetof(kvm_tdx_init_vm, cpuid) == 256);
static_assert(offsetof(kvm_tdx_init_vm, mrowner) == 64);
static_assert(offsetof(kvm_tdx_init_vm, mrownerconfig) == 112);
static_assert(sizeof(kvm_tdx_init_mem_region) == 24);
static_assert(KVM_TDX_MEASURE_MEMORY_REGION == 1);
static_assert(sizeof(kvm_cpuid2) == 8 && sizeof(kvm_cpuid_entry2) == 40);
static_assert(offsetof(kvm_cpuid2, entries) == 8, "include vmm/kvm/uapi.h before <linux/kvm.h>");
static_assert(offsetof(kvm_msrs, entries) == 8 && offsetof(kvm_irq_routing, entries) == 8);
static_assert(sizeof(kvm_msr_list) == 4 && KVM_GET_MSR_INDEX_LIST == 0xC004AE02);

// ---- AMD SEV / SEV-SNP (§3.1-§3.5) -------------------------------------------------------
// struct kvm_sev_cmd is in 6.1 already (the pad after `id` is implicit there).
static_assert(sizeof(kvm_sev_cmd) == 24 && offsetof(kvm_sev_cmd, data) == 8);
static_assert(offsetof(kvm_sev_cmd, error) == 16 && offsetof(kvm_sev_cmd, sev_fd) == 20);

#ifndef KVM_X86_GRP_SEV
#define KVM_X86_GRP_SEV 1
#endif
#ifndef KVM_X86_SEV_VMSA_FEATURES
#define KVM_X86_SEV_VMSA_FEATURES 0
#endif
#ifndef KVM_X86_SNP_POLICY_BITS
#define KVM_X86_SNP_POLICY_BITS 1
#endif
// Certificate fetching (≈7.0, kvm-x86 commit 20c3c4108d58 "KVM: SEV: Add
// KVM_SEV_SNP_ENABLE_REQ_CERTS command"; amd-memory-encryption.rst §21 and "Device attribute
// API"): attribute 2 of KVM_X86_GRP_SEV reads 1 when KVM supports KVM_EXIT_SNP_REQ_CERTS;
// command 103 takes no argument (kvm_sev_cmd.data is not read) and is refused with EINVAL
// once a vCPU exists or on a VM that is not SNP.
#ifndef CVM_UAPI_HAS_SNP_REQ_CERTS
#define KVM_X86_SEV_SNP_REQ_CERTS 2
enum { KVM_SEV_SNP_ENABLE_REQ_CERTS = 103 };
#endif
static_assert(KVM_X86_GRP_SEV == 1 && KVM_X86_SEV_SNP_REQ_CERTS == 2);
static_assert(KVM_SEV_SNP_ENABLE_REQ_CERTS == 103);

#ifndef CVM_UAPI_HAS_SEV_INIT2
enum { KVM_SEV_INIT2 = 22 };

struct kvm_sev_init {
  __u64 vmsa_features;  // @0  subset of KVM_X86_SEV_VMSA_FEATURES
  __u32 flags;          // @8  must be 0
  __u16 ghcb_version;   // @12 0 = default (2) for ES/SNP
  __u16 pad1;           // @14
  __u32 pad2[8];        // @16
};
#endif
static_assert(KVM_SEV_INIT2 == 22);
static_assert(sizeof(kvm_sev_init) == 48 && offsetof(kvm_sev_init, ghcb_version) == 12);

#ifndef CVM_UAPI_HAS_SNP
enum {
  KVM_SEV_SNP_LAUNCH_START = 100,
  KVM_SEV_SNP_LAUNCH_UPDATE = 101,
  KVM_SEV_SNP_LAUNCH_FINISH = 102,
};

struct kvm_sev_snp_launch_start {
  __u64 policy;     // @0  guest policy; bit 17 must be 1
  __u8 gosvw[16];   // @8
  __u16 flags;      // @24 must be 0
  __u8 pad0[6];     // @26
  __u64 pad1[4];    // @32
};

struct kvm_sev_snp_launch_update {
  __u64 gfn_start;  // @0  GPA >> 12
  __u64 uaddr;      // @8  source bytes (ignored for ZERO)
  __u64 len;        // @16 bytes, page-aligned
  __u8 type;        // @24 KVM_SEV_SNP_PAGE_TYPE_*
  __u8 pad0;        // @25
  __u16 flags;      // @26 must be 0
  __u32 pad1;       // @28
  __u64 pad2[4];    // @32
};

struct kvm_sev_snp_launch_finish {
  __u64 id_block_uaddr;  // @0
  __u64 id_auth_uaddr;   // @8
  __u8 id_block_en;      // @16
  __u8 auth_key_en;      // @17
  __u8 vcek_disabled;    // @18
  __u8 host_data[32];    // @19
  __u8 pad0[3];          // @51
  __u16 flags;           // @54 must be 0
  __u64 pad1[4];         // @56
};
#endif  // CVM_UAPI_HAS_SNP
#ifndef KVM_SEV_SNP_PAGE_TYPE_NORMAL
// SNP LAUNCH_UPDATE page types (§3.4); 2 (VMSA) is KVM-internal and 0 is invalid.
#define KVM_SEV_SNP_PAGE_TYPE_NORMAL 0x1
#define KVM_SEV_SNP_PAGE_TYPE_ZERO 0x3
#define KVM_SEV_SNP_PAGE_TYPE_UNMEASURED 0x4
#define KVM_SEV_SNP_PAGE_TYPE_SECRETS 0x5
#define KVM_SEV_SNP_PAGE_TYPE_CPUID 0x6
#endif
static_assert(KVM_SEV_SNP_LAUNCH_START == 100 && KVM_SEV_SNP_LAUNCH_UPDATE == 101);
static_assert(KVM_SEV_SNP_LAUNCH_FINISH == 102);
static_assert(sizeof(kvm_sev_snp_launch_start) == 64);
static_assert(offsetof(kvm_sev_snp_launch_start, flags) == 24);
static_assert(offsetof(kvm_sev_snp_launch_start, pad1) == 32);
static_assert(sizeof(kvm_sev_snp_launch_update) == 64);
static_assert(offsetof(kvm_sev_snp_launch_update, type) == 24);
static_assert(offsetof(kvm_sev_snp_launch_update, flags) == 26);
static_assert(offsetof(kvm_sev_snp_launch_update, pad2) == 32);
static_assert(sizeof(kvm_sev_snp_launch_finish) == 88);
static_assert(offsetof(kvm_sev_snp_launch_finish, host_data) == 19);
static_assert(offsetof(kvm_sev_snp_launch_finish, flags) == 54);
static_assert(offsetof(kvm_sev_snp_launch_finish, pad1) == 56);
static_assert(KVM_SEV_SNP_PAGE_TYPE_NORMAL == 1 && KVM_SEV_SNP_PAGE_TYPE_ZERO == 3);
static_assert(KVM_SEV_SNP_PAGE_TYPE_UNMEASURED == 4 && KVM_SEV_SNP_PAGE_TYPE_SECRETS == 5);
static_assert(KVM_SEV_SNP_PAGE_TYPE_CPUID == 6);

// ---- Core ioctls we issue, checked against the kernel's literal numbers (§1.1) -----------
static_assert(KVM_GET_API_VERSION == 0xAE00 && KVM_CREATE_VM == 0xAE01);
static_assert(KVM_CHECK_EXTENSION == 0xAE03 && KVM_GET_VCPU_MMAP_SIZE == 0xAE04);
static_assert(KVM_CREATE_VCPU == 0xAE41 && KVM_RUN == 0xAE80);
static_assert(KVM_SET_TSS_ADDR == 0xAE47 && KVM_SET_IDENTITY_MAP_ADDR == 0x4008AE48);
static_assert(KVM_SET_CPUID2 == 0x4008AE90 && KVM_GET_SUPPORTED_CPUID == 0xC008AE05);
static_assert(KVM_SET_MP_STATE == 0x4004AE99 && KVM_SET_TSC_KHZ == 0xAEA2);
static_assert(KVM_GET_TSC_KHZ == 0xAEA3);
static_assert(KVM_ENABLE_CAP == 0x4068AEA3 && sizeof(kvm_enable_cap) == 104);
static_assert(KVM_SIGNAL_MSI == 0x4020AEA5 && sizeof(kvm_msi) == 32);
static_assert(KVM_IRQFD == 0x4020AE76 && sizeof(kvm_irqfd) == 32);
static_assert(KVM_IOEVENTFD == 0x4040AE79 && sizeof(kvm_ioeventfd) == 64);
static_assert(KVM_SET_GSI_ROUTING == 0x4008AE6A && sizeof(kvm_irq_routing) == 8);
static_assert(sizeof(kvm_irq_routing_entry) == 48);
static_assert(KVM_GET_REGS == 0x8090AE81 && sizeof(kvm_regs) == 144);
static_assert(KVM_SET_SREGS == 0x4138AE84 && sizeof(kvm_sregs) == 312);
static_assert(KVM_SET_FPU == 0x41A0AE8D && sizeof(kvm_fpu) == 416);
static_assert(KVM_SET_MSRS == 0x4008AE89 && sizeof(kvm_msrs) == 8 && sizeof(kvm_msr_entry) == 16);
static_assert(KVM_SET_LAPIC == 0x4400AE8F && sizeof(kvm_lapic_state) == 1024);
