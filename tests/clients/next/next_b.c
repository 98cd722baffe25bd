/* Test library: the next definition after next_a's. */
__attribute__((visibility("default"))) int wsla_probe(void) { return 'B'; }

/* Referenced by the client only so that the linker keeps this library. */
__attribute__((visibility("default"))) int next_b_loaded(void) { return 1; }
