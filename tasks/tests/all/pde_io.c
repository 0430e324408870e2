#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input: see the statement (binary, little-endian, magic HONEPDE1). */
static void read_exact(void *buffer, size_t bytes) {
    if (fread(buffer, 1, bytes, stdin) != bytes) {
        fprintf(stderr, "input ended early\n");
        exit(1);
    }
}

static uint32_t read_u32(void) {
    uint32_t v;
    read_exact(&v, 4);
    return v;
}

typedef struct {
    uint32_t equation, batch, nx, nt, np;
    double *times, params[8], *data;
} Input;

static Input read_input(int darcy) {
    Input in;
    char magic[8];
    read_exact(magic, 8);
    if (memcmp(magic, "HONEPDE1", 8) != 0) {
        fprintf(stderr, "bad magic\n");
        exit(1);
    }
    in.equation = read_u32();
    in.batch = read_u32();
    in.nx = read_u32();
    in.nt = read_u32();
    in.times = malloc((in.nt + 1) * sizeof(double));
    read_exact(in.times, in.nt * sizeof(double));
    in.np = read_u32();
    if (in.np > 8) exit(1);
    read_exact(in.params, in.np * sizeof(double));
    size_t values = (size_t)in.batch * in.nx * (darcy ? in.nx : 1);
    in.data = malloc(values * sizeof(double));
    read_exact(in.data, values * sizeof(double));
    return in;
}
