// SPDX-License-Identifier: Apache-2.0
// A 64 KiB test firmware that runs from the x86 reset vector (0xfffffff0) in real mode and
// reports what a PC firmware reads from the platform before anything else, on COM1:
//   - PCI 00:00.0, 00:01.0, 00:01.3 and an absent 00:1f.0 through configuration mechanism #1
//     (dword, word and byte data-port accesses)
//   - the CMOS memory-size bytes and RTC status registers B and D
//   - port 0x92 after setting its A20 bit as OVMF does
//   - the PIIX4 PM block after programming PMBA to 0xb000 and PMIOSE (as OVMF does), and
//     whether the ACPI PM timer at PMBA + 8 advances (24-bit: top byte 0)
// then powers off through PM1a_CNT (SLP_TYP 0 | SLP_EN), falling back to a 0xcf9 reset.
// The image is mapped so that it ends at 4 GiB; CS base is 0xffff0000 at reset, so the code
// runs with IP = offset in the image and reads its strings through %cs. Stack at 0:0x7000.
        .code16
        .section .text, "ax"
        .globl  start
start:
        cli
        cld
        xorw    %ax, %ax
        movw    %ax, %ss
        movw    $0x7000, %sp
        movw    $msg_start, %si
        call    puts

        movl    $0x80000000, %eax       // 00:00.0 vendor/device
        movw    $msg_hb_id, %si
        call    show_pci32
        movl    $0x80000008, %eax       // 00:00.0 class/revision
        movw    $msg_hb_class, %si
        call    show_pci32
        movw    $msg_hb_word, %si       // device ID as a word and a byte at port 0xcfe
        call    puts
        movl    $0x80000000, %eax
        call    pci_select
        movw    $0xcfe, %dx
        inw     %dx, %ax
        call    puthex16
        movw    $msg_byte, %si
        call    puts
        movw    $0xcfe, %dx
        inb     %dx, %al
        call    puthex8
        call    newline

        movl    $0x80000800, %eax       // 00:01.0 vendor/device
        movw    $msg_isa_id, %si
        call    show_pci32
        movw    $msg_isa_header, %si    // header type byte (0x0e) at port 0xcfe
        call    puts
        movl    $0x8000080c, %eax
        call    pci_select
        movw    $0xcfe, %dx
        inb     %dx, %al
        call    puthex8
        call    newline
        movl    $0x80000b00, %eax       // 00:01.3 vendor/device
        movw    $msg_pm_id, %si
        call    show_pci32
        movl    $0x80000b08, %eax
        movw    $msg_pm_class, %si
        call    show_pci32
        movl    $0x8000f800, %eax       // 00:1f.0: nothing there
        movw    $msg_absent, %si
        call    show_pci32

        movw    $msg_cmos, %si          // CMOS bytes listed in cmos_indexes
        call    puts
        movw    $cmos_indexes, %bx
1:      movb    %cs:(%bx), %cl
        cmpb    $0xff, %cl
        je      2f
        movb    $' ', %al
        call    putc
        movb    %cl, %al
        call    puthex8
        movb    $'=', %al
        call    putc
        movb    %cl, %al
        outb    %al, $0x70
        inb     $0x71, %al
        call    puthex8
        incw    %bx
        jmp     1b
2:      call    newline

        movw    $msg_port92, %si        // System Control Port A: OVMF's IoOr8 (0x92, BIT1)
        call    puts
        inb     $0x92, %al
        orb     $0x02, %al
        outb    %al, $0x92
        inb     $0x92, %al
        call    puthex8
        call    newline

        movl    $0x80000b40, %eax       // PIIX4 PMBA: clear bits 15:6, or in 0xb000, as
        call    pci_select              // OVMF's PciAndThenOr32 does (bit 0 RTE is kept)
        movw    $0xcfc, %dx
        inl     %dx, %eax
        andl    $0xffff003f, %eax
        orl     $0xb000, %eax
        outl    %eax, %dx
        movl    $0x80000b80, %eax       // PMREGMISC.PMIOSE
        call    pci_select
        movb    $0x01, %al
        movw    $0xcfc, %dx
        outb    %al, %dx
        movl    $0x80000b40, %eax
        movw    $msg_pmba, %si
        call    show_pci32

        movw    $msg_timer, %si         // PM timer: top byte and whether it moves
        call    puts
        movw    $0xb008, %dx
        inl     %dx, %eax
        movl    %eax, %ebx
        shrl    $24, %eax
        call    puthex8
        movw    $msg_advancing, %si
        call    puts
        movl    $0x1000000, %ecx
        movw    $0xb008, %dx
3:      inl     %dx, %eax
        cmpl    %eax, %ebx
        jne     4f
        decl    %ecx
        jnz     3b
        movw    $msg_no, %si
        jmp     5f
4:      movw    $msg_yes, %si
5:      call    puts

        movw    $msg_poweroff, %si
        call    puts
        movw    $0xb004, %dx            // PM1a_CNT: SLP_TYP 0 (S5 on PIIX4) | SLP_EN
        movw    $0x2000, %ax
        outw    %ax, %dx
        movw    $0xb008, %dx            // give the VMM one second (PM timer) to act:
        inl     %dx, %eax               // QEMU handles the request asynchronously
        movl    %eax, %ebx
6:      inl     %dx, %eax
        subl    %ebx, %eax
        andl    $0xffffff, %eax
        cmpl    $3579545, %eax
        jb      6b
        movw    $msg_reset, %si
        call    puts
        movw    $0xcf9, %dx             // PIIX3 reset control: RCPU | SRST
        movb    $0x06, %al
        outb    %al, %dx
7:      hlt
        jmp     7b

// show_pci32: prints the label at %si, then the dword at config address %eax, newline.
show_pci32:
        pushl   %eax
        call    puts
        popl    %eax
        call    pci_select
        movw    $0xcfc, %dx
        inl     %dx, %eax
        call    puthex32
        jmp     newline

pci_select:
        movw    $0xcf8, %dx
        outl    %eax, %dx
        ret

// puts: the NUL-terminated string at %cs:%si. Clobbers %al, %dx, %si.
puts:
        movb    %cs:(%si), %al
        incw    %si
        testb   %al, %al
        jz      1f
        call    putc
        jmp     puts
1:      ret

newline:
        movb    $'\n', %al
// putc: %al to COM1 once the transmitter holding register is empty. Clobbers %dx.
putc:
        pushw   %ax
        movw    $0x3fd, %dx
1:      inb     %dx, %al
        testb   $0x20, %al
        jz      1b
        popw    %ax
        movw    $0x3f8, %dx
        outb    %al, %dx
        ret

nibble:
        andb    $0x0f, %al
        addb    $'0', %al
        cmpb    $'9', %al
        jbe     putc
        addb    $('a' - '0' - 10), %al
        jmp     putc

puthex8:
        pushw   %ax
        shrb    $4, %al
        call    nibble
        popw    %ax
        pushw   %ax
        call    nibble
        popw    %ax
        ret

puthex16:
        pushw   %cx
        pushw   %ax
        movw    $4, %cx
1:      rolw    $4, %ax
        pushw   %ax
        call    nibble
        popw    %ax
        loop    1b
        popw    %ax
        popw    %cx
        ret

puthex32:
        pushw   %cx
        pushl   %eax
        movw    $8, %cx
1:      roll    $4, %eax
        pushl   %eax
        call    nibble
        popl    %eax
        loop    1b
        popl    %eax
        popw    %cx
        ret

cmos_indexes:
        .byte   0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5b, 0x5c, 0x5d, 0x5f
        .byte   0x0b, 0x0d, 0xff
msg_start:      .asciz "CVMMFW start\n"
msg_hb_id:      .asciz "CVMMFW pci 00:00.0 id="
msg_hb_class:   .asciz "CVMMFW pci 00:00.0 class-rev="
msg_hb_word:    .asciz "CVMMFW pci 00:00.0 device-word="
msg_byte:       .asciz " device-byte="
msg_isa_id:     .asciz "CVMMFW pci 00:01.0 id="
msg_isa_header: .asciz "CVMMFW pci 00:01.0 header-type="
msg_pm_id:      .asciz "CVMMFW pci 00:01.3 id="
msg_pm_class:   .asciz "CVMMFW pci 00:01.3 class-rev="
msg_absent:     .asciz "CVMMFW pci 00:1f.0 id="
msg_cmos:       .asciz "CVMMFW cmos"
msg_pmba:       .asciz "CVMMFW pci 00:01.3 pmba="
msg_port92:     .asciz "CVMMFW port92="
msg_timer:      .asciz "CVMMFW pmtimer top-byte="
msg_advancing:  .asciz " advancing="
msg_yes:        .asciz "yes\n"
msg_no:         .asciz "no\n"
msg_poweroff:   .asciz "CVMMFW poweroff\n"
msg_reset:      .asciz "CVMMFW poweroff did not stop the machine, resetting\n"

// The reset vector: the first instruction fetched after reset, at 0xfffffff0 (CS base
// 0xffff0000, IP 0xfff0). A near jump keeps CS, so `start` runs at 0xffff0000 + its offset.
        .section .reset, "ax"
        jmp     start
