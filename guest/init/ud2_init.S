/* SPDX-License-Identifier: Apache-2.0
 *
 * /init of the "ud2" initramfs: the first user-mode instruction is ud2.
 *
 * On hosts where guest user space cannot run (the nested kvm_pvm build machines: user-mode
 * `syscall` is not emulated), a busybox /init never gets to print anything. This /init
 * needs no system call: the CPU raises #UD the moment user mode runs, init dies of SIGILL
 * and the kernel panics with "Attempted to kill init! exitcode=0x00000004". The boot test
 * uses that line as proof that the kernel reached and started init. With panic=-1 and
 * reboot=k the guest then resets through the i8042 controller.
 */
	.text
	.globl _start
_start:
	ud2
