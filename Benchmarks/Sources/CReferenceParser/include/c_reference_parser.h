// A plain C parser of ftrace kvm_hypercall lines: the floor a compiled parser reaches on this
// machine, timed beside encmon's in the same benchmark iteration.
#ifndef C_REFERENCE_PARSER_H
#define C_REFERENCE_PARSER_H
#include <stddef.h>
#include <stdint.h>

struct c_tally {
    uint64_t events;   // lines with a parsed kvm_hypercall
    uint64_t checksum; // mixes every parsed field, so nothing is optimised away
};

// Parses the lines in `buf` (the last may lack its newline) into `t`.
void c_parse_buffer(const uint8_t *buf, size_t len, struct c_tally *t);
// read(2) in 1 MiB chunks, lines carried across chunks, then as c_parse_buffer. -1 on open error.
int c_parse_file(const char *path, struct c_tally *t);
#endif
