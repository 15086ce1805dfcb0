/* SPDX-License-Identifier: Apache-2.0
 * Entry points of the test guest. The same ELF boots two ways:
 *   linux64_entry (ELF e_entry): the Linux 64-bit boot protocol as cvmm uses it for ELF
 *     kernels (Documentation/arch/x86/boot.rst "64-bit BOOT PROTOCOL"): long mode, paging on
 *     with an identity map of at least the first 4 GiB, RSI = zero page.
 *   pvh_entry (Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY): 32-bit protected mode, paging off,
 *     EBX = struct hvm_start_info (Xen docs/misc/pvh.pandoc). QEMU boots the ELF this way. This
 *     path builds its own identity map of 4 GiB (2 MiB pages) and enters long mode.
 * Both call guest_main(kind, boot_info) on the guest's own stack with interrupts off.
 * .bss is not cleared here: ELF loaders zero p_memsz beyond p_filesz (cvmm and QEMU do).
 */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define BOOT_KIND_LINUX64 1
#define BOOT_KIND_PVH 2
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define PTE_PRESENT_RW 0x3
#define PDE_LARGE_PRESENT_RW 0x83
#define GDT_CODE64 0x08
#define GDT_DATA 0x10

/* ELF note: namesz, descsz, type, "Xen\0", then the 32-bit entry as an 8-byte value (the
 * form Linux emits; cvmm and QEMU read descsz 8). */
        .section .note.Xen, "a"
        .p2align 2
        .long 4
        .long 8
        .long XEN_ELFNOTE_PHYS32_ENTRY
        .asciz "Xen"
        .p2align 2
        .quad pvh_entry

        .section .text.boot, "ax"
        .code64
        .globl linux64_entry
linux64_entry:
        cli
        cld
        mov %rsi, %r12                  /* zero page */
        lea boot_stack_top(%rip), %rsp
        mov $BOOT_KIND_LINUX64, %edi
        mov %r12, %rsi
        jmp enter_c

        .code32
        .globl pvh_entry
pvh_entry:
        cli
        cld
        mov %ebx, %esi                  /* hvm_start_info, kept in ESI through the switch */
        /* PML4[0] -> PDPT; PDPT[0..3] -> the four page directories. */
        movl $(pvh_pdpt + PTE_PRESENT_RW), pvh_pml4
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $12, %eax
        add $(pvh_pd + PTE_PRESENT_RW), %eax
        mov %eax, pvh_pdpt(, %ecx, 8)
        inc %ecx
        cmp $4, %ecx
        jb 1b
        /* 2048 PDEs of 2 MiB: entry j maps j * 2 MiB. The high dwords stay zero (.bss). */
        xor %ecx, %ecx
2:      mov %ecx, %eax
        shl $21, %eax
        or $PDE_LARGE_PRESENT_RW, %eax
        mov %eax, pvh_pd(, %ecx, 8)
        inc %ecx
        cmp $2048, %ecx
        jb 2b
        lgdt pvh_gdt_descriptor
        mov %cr4, %eax
        or $CR4_PAE, %eax
        mov %eax, %cr4
        mov $pvh_pml4, %eax
        mov %eax, %cr3
        mov $MSR_EFER, %ecx
        rdmsr
        or $EFER_LME, %eax
        wrmsr
        mov %cr0, %eax
        or $(CR0_PG | CR0_PE), %eax
        mov %eax, %cr0
        ljmp $GDT_CODE64, $pvh_long_mode

        .code64
pvh_long_mode:
        mov $GDT_DATA, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        mov %eax, %fs
        mov %eax, %gs
        mov %esi, %esi                  /* zero-extend the start info address */
        lea boot_stack_top(%rip), %rsp
        mov $BOOT_KIND_PVH, %edi
        /* fall through */

enter_c:
        xor %ebp, %ebp
        call guest_main
3:      cli
        hlt
        jmp 3b

/* Exception stubs: push a dummy error code where the CPU pushes none (Intel SDM Vol. 3A
 * §6.15: vectors 8, 10-14, 17, 21, 29, 30 push one), then the vector number. */
.macro exception_stub vector
        .p2align 4
exception_stub_\vector:
        .if (\vector == 8) || (\vector >= 10 && \vector <= 14) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
        .else
        pushq $0
        .endif
        pushq $\vector
        jmp exception_common
.endm

        .text
        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        exception_stub \v
        .endr

exception_common:
        mov %rsp, %rdi                  /* struct exception_frame* */
        and $-16, %rsp
        call exception_handler          /* never returns */
4:      cli
        hlt
        jmp 4b

        .section .rodata
        .p2align 3
        .globl exception_stubs
exception_stubs:
        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .quad exception_stub_\v
        .endr

/* GDT for the PVH path: null, 64-bit code (0x08), data (0x10). */
        .p2align 3
pvh_gdt:
        .quad 0
        .quad 0x00af9a000000ffff
        .quad 0x00cf92000000ffff
pvh_gdt_end:
pvh_gdt_descriptor:
        .word pvh_gdt_end - pvh_gdt - 1
        .long pvh_gdt

        .section .bss
        .p2align 12
pvh_pml4:
        .skip 4096
pvh_pdpt:
        .skip 4096
pvh_pd:
        .skip 4 * 4096
        .p2align 4
boot_stack:
        .skip 65536
boot_stack_top:

        .section .note.GNU-stack, "", @progbits
