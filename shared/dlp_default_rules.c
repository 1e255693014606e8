/* The default rules file, built into the binary from
 * shared/dlp_default_rules.yaml (the one source of truth; the Makefile
 * rebuilds this object when the YAML changes).  The assembler includes the
 * bytes as they are and adds a NUL, so no generator step is needed. */
__asm__(".section .rodata.dlp_default_rules,\"a\",@progbits\n"
	".global dlp_default_rules_start\n"
	".global dlp_default_rules_end\n"
	"dlp_default_rules_start:\n"
	".incbin \"shared/dlp_default_rules.yaml\"\n"
	"dlp_default_rules_end:\n"
	".byte 0\n"
	".previous\n");
