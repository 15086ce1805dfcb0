/* SPDX-License-Identifier: Apache-2.0
 *
 * The trivial guest of the boot-latency bench: an ELF64 image with a PVH entry note, so that
 * cvmm and QEMU load it like a vmlinux (PT_LOAD at 1 MiB, XEN_ELFNOTE_PHYS32_ENTRY), and the
 * same code bytes that bare_ioctl_floor runs. Entered in 32-bit protected mode, paging off.
 * It prints "OK\n" on COM1 (0x3f8), then asks for a reset through the i8042 (0xfe to port
 * 0x64: cvmm and the floor exit there), then writes isa-debug-exit (port 0xf4: QEMU microvm,
 * which has no i8042, exits there), then halts.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4                 /* n_namesz: "Xen\0" */
	.long 8                 /* n_descsz: a 64-bit address, as in vmlinux */
	.long 18                /* n_type: XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h) */
	.asciz "Xen"
	.balign 4
	.quad pvh_entry
	.balign 4

	.text
	.code32
	.globl pvh_entry
pvh_entry:
	mov $0x3f8, %dx
	mov $'O', %al
	out %al, %dx
	mov $'K', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	mov $0xfe, %al
	out %al, $0x64
	xor %eax, %eax
	out %al, $0xf4
1:	hlt
	jmp 1b
