/* dlsym's entry: chooses the function that answers, then jumps to it, so that glibc still sees the client as the caller. */

/*
 * glibc resolves RTLD_NEXT relative to the module that called dlsym, which
 * it finds from the return address.  A hook written in C hands the lookup
 * on with a tail call only when the optimiser happens to make one (never at
 * -O0, nor with sanitizer instrumentation), and a plain call would make
 * every interposer in the client find itself as "next".  So the entry is a
 * jump: wsla_dlsym_target(handle, name) returns glibc's dlsym or the shim's
 * driver lookup, and control goes there with the client's return address
 * and arguments untouched.
 */

#if defined(__x86_64__)
	.text
	.globl	dlsym
	.type	dlsym, @function
dlsym:
#ifdef __CET__
	endbr64
#endif
	pushq	%rdi
	pushq	%rsi
	subq	$8, %rsp            /* 16-byte alignment for the call */
	call	wsla_dlsym_target
	addq	$8, %rsp
	popq	%rsi
	popq	%rdi
	jmp	*%rax
	.size	dlsym, .-dlsym
#elif defined(__aarch64__)
	.text
	.globl	dlsym
	.type	dlsym, %function
dlsym:
	stp	x29, x30, [sp, -32]!
	mov	x29, sp
	stp	x0, x1, [sp, 16]
	bl	wsla_dlsym_target
	mov	x16, x0
	ldp	x0, x1, [sp, 16]
	ldp	x29, x30, [sp], 32
	br	x16
	.size	dlsym, .-dlsym
#else
#error "dlsym_trampoline.S: add this architecture's jump"
#endif

	.section .note.GNU-stack, "", %progbits
