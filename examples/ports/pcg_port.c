/*
 * pcg_port.c: PCG verification (Principled Coarse-Grained acceptance) as an external port that speaks
 * the pcg-port protocol, version 1, on stdin/stdout (docs/protocol.md). One file, C11, libc only.
 *
 * Math follows the paper: q is the target, p the draft. Groups G_k with weights w[k,t] (each token's
 * weights sum to 1); coarse masses P_c(k) = sum_{t in G_k} w[k,t] p(t), Q_c(k) likewise with q.
 * For row b and drafted position i, with x = draft_tokens[b,i]:
 *   1. K ~ w[., x]                              so Pr(K = k) = P_c(k)
 *   2. accept iff u * P_c(K) < Q_c(K)           Pr = min(1, Q_c(K) / P_c(K)); Q_c(K) = 0 never accepts
 *   3. accept: emit x with label K, go on. Reject: k ~ R_c(k) = [Q_c(k) - P_c(k)]_+ / sum (the exact
 *      residual over all groups; Q_c where R_c is 0 everywhere, reachable only by rounding), then
 *      t ~ q(t | k) = w[k,t] q(t) / Q_c(k), emit (t, k) and stop the row.
 *   4. All gamma drafts accepted: the bonus token t ~ q_{gamma+1}, its label k ~ w[., t].
 * Randomness: xoshiro256** seeded through splitmix64 from the request's 64-bit seed, so one seed
 * gives one output (the protocol's determinism rule). Probabilities may arrive as float64, float32,
 * float16 or bfloat16 (all announced in the handshake); each is converted to double exactly.
 *
 * Build the program:  cc -O2 -std=c11 -o pcg_port pcg_port.c
 * Build a library:    cc -O2 -std=c11 -shared -fPIC -DPCG_PORT_LIBRARY -o libpcg_port.so pcg_port.c
 *                     (only pcg_port_verify(), for calling the same code in-process, e.g. with ctypes)
 *
 * Flags that break the port on purpose, so the gate's handling of each failure can be tested:
 *   --crash            exit with status 3 on the first request (a message on stderr first)
 *   --crash-on N       the same at the N-th request of each process (1-based)
 *   --segfault         die of SIGSEGV on the first request
 *   --hang             never answer the first request
 *   --garbage          answer with a line that is not a response
 *   --wrong-shape      send tokens as [B, gamma] instead of [B, gamma+1]
 *   --wrong-dtype      send tokens as float64
 *   --bad-ids          emit token id V (out of range) in row 0
 *   --error            refuse every request with an ERROR line
 *   --bad-handshake    announce protocol version 99
 *   --ignore-seed      mix the clock into the seed (outputs no longer follow the seed)
 *   --accept-all       accept every draft (a port that lies: wrong laws, well-formed outputs)
 *   --no-labels        do not send group_ids (allowed: the gate then tests tokens only)
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ random numbers */
typedef struct { uint64_t s[4]; } rng_t;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *rng, uint64_t seed) {
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng_t *rng) { /* xoshiro256** */
    uint64_t *s = rng->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return result;
}

static double rng_uniform(rng_t *rng) { return (double)(rng_next(rng) >> 11) * 0x1.0p-53; } /* [0, 1) */

/* ------------------------------------------------------------------ PCG */
typedef struct {
    int64_t V, M;
    const int64_t *group_ptr; const int32_t *group_members; const double *group_weights;
    const int64_t *token_ptr; const int32_t *token_groups; const double *token_weights;
} groups_view;

/* Index j in [0, n) drawn with mass w[j] * (scale ? scale[idx[j]] : 1): the first j whose running sum
 * exceeds u * total, never a zero-mass j (the last positive one absorbs rounding). -1 if all are zero. */
static int64_t draw(const double *w, const int32_t *idx, const double *scale, int64_t n, double u) {
    double total = 0.0, acc = 0.0;
    int64_t last = -1;
    for (int64_t j = 0; j < n; j++) total += w[j] * (scale ? scale[idx[j]] : 1.0);
    if (!(total > 0.0)) return -1;
    double target = u * total;
    for (int64_t j = 0; j < n; j++) {
        double m = w[j] * (scale ? scale[idx[j]] : 1.0);
        if (m > 0.0) { acc += m; last = j; if (target < acc) return j; }
    }
    return last;
}

/* sum_{t in G_k} w[k,t] probs[t]: a coarse mass, O(|G_k|). */
static double coarse(const groups_view *g, int64_t k, const double *probs) {
    double mass = 0.0;
    for (int64_t j = g->group_ptr[k]; j < g->group_ptr[k + 1]; j++) mass += g->group_weights[j] * probs[g->group_members[j]];
    return mass;
}

/* k ~ w[., t]: a group label for token t. */
static int64_t pick_group(const groups_view *g, int64_t t, double u) {
    int64_t lo = g->token_ptr[t], j = draw(g->token_weights + lo, NULL, NULL, g->token_ptr[t + 1] - lo, u);
    return j < 0 ? -1 : g->token_groups[lo + j];
}

/* t ~ q(t | k) ∝ w[k,t] q(t). */
static int64_t pick_in_group(const groups_view *g, int64_t k, const double *target, double u) {
    int64_t lo = g->group_ptr[k];
    int64_t j = draw(g->group_weights + lo, g->group_members + lo, target, g->group_ptr[k + 1] - lo, u);
    return j < 0 ? -1 : g->group_members[lo + j];
}

/* The residual's group: R_c(k) ∝ [Q_c(k) - P_c(k)]_+ = [sum_t w[k,t] (q(t) - p(t))]_+, O(nnz). */
static int64_t pick_residual(const groups_view *g, const double *draft, const double *target, double *buffer, double u) {
    double total = 0.0;
    for (int64_t k = 0; k < g->M; k++) {
        double d = 0.0;
        for (int64_t j = g->group_ptr[k]; j < g->group_ptr[k + 1]; j++) {
            int32_t t = g->group_members[j];
            d += g->group_weights[j] * (target[t] - draft[t]);
        }
        buffer[k] = d > 0.0 ? d : 0.0;
        total += buffer[k];
    }
    if (!(total > 0.0))
        for (int64_t k = 0; k < g->M; k++) buffer[k] = coarse(g, k, target);
    return draw(buffer, NULL, NULL, g->M, u);
}

/* Verify B drafted blocks. Shapes: draft_tokens [B, gamma], draft_probs [B, gamma, V],
 * target_probs [B, gamma+1, V]; outputs tokens, group_ids [B, gamma+1] (-1 after the block ends),
 * num_accepted [B]. Returns 0, -1 when memory runs out, -2 on input no valid block can have. */
int pcg_port_verify(int64_t B, int64_t gamma, int64_t V, int64_t M,
                    const int64_t *group_ptr, const int32_t *group_members, const double *group_weights,
                    const int64_t *token_ptr, const int32_t *token_groups, const double *token_weights,
                    const int64_t *draft_tokens, const double *draft_probs, const double *target_probs,
                    uint64_t seed, int accept_all, int64_t *tokens, int64_t *group_ids, int64_t *num_accepted) {
    groups_view g = {V, M, group_ptr, group_members, group_weights, token_ptr, token_groups, token_weights};
    double *buffer = malloc((size_t)(M > 0 ? M : 1) * sizeof *buffer);
    if (!buffer) return -1;
    rng_t rng;
    rng_seed(&rng, seed);
    int status = 0;
    for (int64_t b = 0; b < B && status == 0; b++) {
        int64_t *row_tokens = tokens + b * (gamma + 1), *row_labels = group_ids + b * (gamma + 1), a = 0;
        for (int64_t i = 0; i <= gamma; i++) row_tokens[i] = row_labels[i] = -1;
        for (; a < gamma; a++) {
            const double *draft = draft_probs + (b * gamma + a) * V, *target = target_probs + (b * (gamma + 1) + a) * V;
            int64_t x = draft_tokens[b * gamma + a], k = pick_group(&g, x, rng_uniform(&rng));
            if (x < 0 || x >= V || k < 0) { status = -2; break; }
            double draft_mass = coarse(&g, k, draft), target_mass = coarse(&g, k, target);  /* P_c(K), Q_c(K) */
            if (accept_all || rng_uniform(&rng) * draft_mass < target_mass) {
                row_tokens[a] = x; row_labels[a] = k;
                continue;
            }
            int64_t r = pick_residual(&g, draft, target, buffer, rng_uniform(&rng));
            int64_t t = r < 0 ? -1 : pick_in_group(&g, r, target, rng_uniform(&rng));
            if (t < 0) { status = -2; break; }
            row_tokens[a] = t; row_labels[a] = r;
            break;
        }
        if (status) break;
        num_accepted[b] = a;
        if (a == gamma) { /* the bonus token from q_{gamma+1}, its label from w[., t] */
            const double *target = target_probs + (b * (gamma + 1) + gamma) * V;
            int64_t t = draw(target, NULL, NULL, V, rng_uniform(&rng));
            int64_t k = t < 0 ? -1 : pick_group(&g, t, rng_uniform(&rng));
            if (k < 0) { status = -2; break; }
            row_tokens[gamma] = t; row_labels[gamma] = k;
        }
    }
    free(buffer);
    return status;
}

#ifndef PCG_PORT_LIBRARY
/* ------------------------------------------------------------------ the protocol */
#define MAX_LINE 4096
#define MAX_LIVE_GROUPS 32

typedef struct {
    int64_t id, V, M;  /* id 0: a free slot */
    int64_t *group_ptr, *token_ptr; int32_t *group_members, *token_groups; double *group_weights, *token_weights;
} groups_slot;

static groups_slot slots[MAX_LIVE_GROUPS];
static char line[MAX_LINE + 2];
static struct {
    int crash_on, segfault, hang, garbage, wrong_shape, wrong_dtype, bad_ids, error, bad_handshake, ignore_seed,
        accept_all, no_labels;
} flags;

static void fail(const char *what) {
    fprintf(stderr, "pcg_port: %s\n", what);
    exit(2);
}

/* The next header line, '\n' removed; 0 at end of input. */
static int read_line(void) {
    if (!fgets(line, sizeof line, stdin)) return 0;
    size_t n = strlen(line);
    if (n == 0 || line[n - 1] != '\n') fail("a header line without its end");
    line[n - 1] = '\0';
    return 1;
}

/* A growable buffer reused from request to request (no fresh pages, so no page faults, per request). */
typedef struct { void *data; size_t capacity; } buffer_t;

static void *reserve(buffer_t *buffer, size_t bytes) {
    if (bytes > buffer->capacity) {
        free(buffer->data);
        buffer->data = malloc(bytes ? bytes : 1);
        if (!buffer->data) fail("out of memory");
        buffer->capacity = bytes;
    }
    return buffer->data;
}

static size_t itemsize(const char *dtype) {
    if (!strcmp(dtype, "int64") || !strcmp(dtype, "float64")) return 8;
    if (!strcmp(dtype, "int32") || !strcmp(dtype, "float32")) return 4;
    if (!strcmp(dtype, "float16") || !strcmp(dtype, "bfloat16")) return 2;
    return 0;
}

/* An array header "<name> <dtype> <ndim> <dims...>": the name and ndim must be as expected; returns the
 * element count, the dtype in dtype[16] and the dims. */
static size_t read_header(const char *name, int ndim, char *dtype, int64_t *dims) {
    char got_name[64];
    int got_ndim, used = 0;
    if (!read_line() || sscanf(line, "%63s %15s %d%n", got_name, dtype, &got_ndim, &used) != 3) fail("expected an array header");
    if (strcmp(got_name, name) || got_ndim != ndim || !itemsize(dtype)) {
        fprintf(stderr, "pcg_port: expected array %s with %d dims, got: %s\n", name, ndim, line);
        exit(2);
    }
    size_t count = 1;
    const char *cursor = line + used;
    for (int d = 0; d < ndim; d++) {
        char *end;
        long long v = strtoll(cursor, &end, 10);
        if (end == cursor || v < 0) fail("bad array dimension");
        dims[d] = v; count *= (size_t)v; cursor = end;
    }
    return count;
}

static void read_payload(void *data, size_t bytes) {
    if (bytes && fread(data, 1, bytes, stdin) != bytes) fail("the input ended inside an array");
}

/* One array of the given dtype into `buffer` (or a fresh allocation when buffer is NULL). */
static void *read_array(const char *name, const char *dtype, int ndim, int64_t *dims, buffer_t *buffer) {
    char got[16];
    size_t bytes = read_header(name, ndim, got, dims) * itemsize(got);
    if (strcmp(got, dtype)) { fprintf(stderr, "pcg_port: array %s must be %s, got %s\n", name, dtype, got); exit(2); }
    void *data = buffer ? reserve(buffer, bytes) : malloc(bytes ? bytes : 1);
    if (!data) fail("out of memory");
    read_payload(data, bytes);
    return data;
}

/* float16 (IEEE half) bits to double, exactly, without libm. */
static double from_float16(uint16_t h) {
    uint64_t sign = (uint64_t)(h >> 15) << 63, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff, bits;
    double v;
    if (exponent == 0) { v = (double)mantissa * 0x1p-24; return sign ? -v : v; } /* zero or subnormal */
    bits = sign | ((exponent == 31 ? 2047 : exponent - 15 + 1023) << 52) | (mantissa << 42);
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* Probabilities in any announced dtype, as doubles (every float32, float16 and bfloat16 value is one exactly). */
static double *read_probs(const char *name, int64_t *dims, buffer_t *raw, buffer_t *converted) {
    char dtype[16];
    size_t count = read_header(name, 3, dtype, dims), size = itemsize(dtype);
    if (!strncmp(dtype, "int", 3)) { fprintf(stderr, "pcg_port: %s must be a float dtype, got %s\n", name, dtype); exit(2); }
    void *data = reserve(raw, count * size);
    read_payload(data, count * size);
    if (!strcmp(dtype, "float64")) return data;
    double *out = reserve(converted, count * sizeof(double));
    const uint16_t *half = data;
    if (!strcmp(dtype, "float32"))
        for (size_t i = 0; i < count; i++) out[i] = ((const float *)data)[i];
    else if (!strcmp(dtype, "float16"))
        for (size_t i = 0; i < count; i++) out[i] = from_float16(half[i]);
    else /* bfloat16: the upper half of a float32 */
        for (size_t i = 0; i < count; i++) {
            uint32_t bits = (uint32_t)half[i] << 16;
            float f;
            memcpy(&f, &bits, sizeof f);
            out[i] = f;
        }
    return out;
}

static void write_array(const char *name, const char *dtype, int ndim, const int64_t *dims, const void *data, size_t bytes) {
    printf("%s %s %d", name, dtype, ndim);
    for (int d = 0; d < ndim; d++) printf(" %" PRId64, dims[d]);
    printf("\n");
    fwrite(data, 1, bytes, stdout);
}

static groups_slot *find_slot(int64_t id) {
    for (int i = 0; i < MAX_LIVE_GROUPS; i++) if (slots[i].id == id && id != 0) return &slots[i];
    return NULL;
}

static void free_slot(groups_slot *s) {
    free(s->group_ptr); free(s->group_members); free(s->group_weights);
    free(s->token_ptr); free(s->token_groups); free(s->token_weights);
    memset(s, 0, sizeof *s);
}

/* GROUPS <gid> <V> <M> 6, then the six CSR arrays in the protocol's order. */
static void on_groups(void) {
    int64_t id, V, M, dims[1];
    int n;
    if (sscanf(line, "GROUPS %" SCNd64 " %" SCNd64 " %" SCNd64 " %d", &id, &V, &M, &n) != 4 || n != 6 || id <= 0) fail("bad GROUPS line");
    groups_slot *s = NULL;
    for (int i = 0; i < MAX_LIVE_GROUPS && !s; i++) if (slots[i].id == 0) s = &slots[i];
    if (!s) fail("more than 32 live groups (the gate must FREE one first)");
    s->id = id; s->V = V; s->M = M;
    s->group_ptr = read_array("group_ptr", "int64", 1, dims, NULL);
    s->group_members = read_array("group_members", "int32", 1, dims, NULL);
    s->group_weights = read_array("group_weights", "float64", 1, dims, NULL);
    s->token_ptr = read_array("token_ptr", "int64", 1, dims, NULL);
    s->token_groups = read_array("token_groups", "int32", 1, dims, NULL);
    s->token_weights = read_array("token_weights", "float64", 1, dims, NULL);
}

/* REQUEST <rid> <gid> <seed> 3, then draft_tokens, draft_probs, target_probs; answer RESPONSE or ERROR. */
static void on_request(int64_t served) {
    uint64_t rid, seed;
    int64_t gid, tdims[2], pdims[3], qdims[3];
    int n;
    if (sscanf(line, "REQUEST %" SCNu64 " %" SCNd64 " %" SCNu64 " %d", &rid, &gid, &seed, &n) != 4 || n != 3) fail("bad REQUEST line");
    static buffer_t buffers[5], outputs[3];
    int64_t *draft_tokens = read_array("draft_tokens", "int64", 2, tdims, &buffers[0]);
    double *draft_probs = read_probs("draft_probs", pdims, &buffers[1], &buffers[2]);
    double *target_probs = read_probs("target_probs", qdims, &buffers[3], &buffers[4]);
    int64_t B = tdims[0], gamma = tdims[1], V = pdims[2];
    groups_slot *g = find_slot(gid);

    if (flags.crash_on == served) { fprintf(stderr, "pcg_port: simulated crash on request %" PRIu64 "\n", rid); exit(3); }
    if (flags.segfault) raise(SIGSEGV);
    if (flags.hang) for (;;) pause();
    if (flags.garbage) { printf("this is not a response\n"); fflush(stdout); return; }
    if (flags.error) { printf("ERROR %" PRIu64 " simulated refusal\n", rid); fflush(stdout); return; }
    if (!g || pdims[0] != B || pdims[1] != gamma || qdims[0] != B || qdims[1] != gamma + 1 || qdims[2] != V || g->V != V) {
        printf("ERROR %" PRIu64 " unknown groups id or inconsistent shapes\n", rid); fflush(stdout); return;
    }
    if (flags.ignore_seed) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        seed ^= (uint64_t)now.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
    }
    size_t cells = (size_t)(B * (gamma + 1));
    int64_t *tokens = reserve(&outputs[0], cells * 8), *labels = reserve(&outputs[1], cells * 8);
    int64_t *accepted = reserve(&outputs[2], (size_t)B * 8);
    int status = pcg_port_verify(B, gamma, V, g->M, g->group_ptr, g->group_members, g->group_weights, g->token_ptr,
                                 g->token_groups, g->token_weights, draft_tokens, draft_probs, target_probs, seed,
                                 flags.accept_all, tokens, labels, accepted);
    if (status) {
        printf("ERROR %" PRIu64 " %s\n", rid, status == -1 ? "out of memory" : "input no valid block can have");
    } else {
        int64_t block[2] = {B, gamma + 1}, narrow[2] = {B, gamma}, rows[1] = {B};
        if (flags.bad_ids) tokens[accepted[0]] = V;
        printf("RESPONSE %" PRIu64 " %d\n", rid, flags.no_labels ? 2 : 3);
        if (flags.wrong_shape) {
            for (int64_t b = 0; b < B; b++) memmove(tokens + b * gamma, tokens + b * (gamma + 1), (size_t)gamma * 8);
            write_array("tokens", "int64", 2, narrow, tokens, (size_t)(B * gamma) * 8);
        } else if (flags.wrong_dtype) {
            double *as_float = malloc(cells * 8 + 8);
            if (!as_float) fail("out of memory");
            for (size_t c = 0; c < cells; c++) as_float[c] = (double)tokens[c];
            write_array("tokens", "float64", 2, block, as_float, cells * 8);
            free(as_float);
        } else {
            write_array("tokens", "int64", 2, block, tokens, cells * 8);
        }
        if (!flags.no_labels) write_array("group_ids", "int64", 2, block, labels, cells * 8);
        write_array("num_accepted", "int64", 1, rows, accepted, (size_t)B * 8);
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--crash")) flags.crash_on = 1;
        else if (!strcmp(a, "--crash-on") && i + 1 < argc) flags.crash_on = atoi(argv[++i]);
        else if (!strcmp(a, "--segfault")) flags.segfault = 1;
        else if (!strcmp(a, "--hang")) flags.hang = 1;
        else if (!strcmp(a, "--garbage")) flags.garbage = 1;
        else if (!strcmp(a, "--wrong-shape")) flags.wrong_shape = 1;
        else if (!strcmp(a, "--wrong-dtype")) flags.wrong_dtype = 1;
        else if (!strcmp(a, "--bad-ids")) flags.bad_ids = 1;
        else if (!strcmp(a, "--error")) flags.error = 1;
        else if (!strcmp(a, "--bad-handshake")) flags.bad_handshake = 1;
        else if (!strcmp(a, "--ignore-seed")) flags.ignore_seed = 1;
        else if (!strcmp(a, "--accept-all")) flags.accept_all = 1;
        else if (!strcmp(a, "--no-labels")) flags.no_labels = 1;
        else { fprintf(stderr, "pcg_port: unknown argument %s\n", a); return 2; }
    }
    uint16_t probe = 1;
    if (*(uint8_t *)&probe != 1) fail("this example reads little-endian payloads; byte-swap them on this host");
    setvbuf(stdin, NULL, _IOFBF, 1 << 20);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);

    /* Handshake: the gate sends "PCG-PORT <version>"; answer with ours, or exit if we cannot speak it. */
    if (!read_line()) return 0;
    if (strcmp(line, "PCG-PORT 1") != 0) fail("the gate does not speak protocol version 1");
    printf("PCG-PORT %d pcg_c_example float64,float32,float16,bfloat16 cpu\n", flags.bad_handshake ? 99 : 1);
    fflush(stdout);

    int64_t served = 0;
    while (read_line()) {
        if (!strncmp(line, "GROUPS ", 7)) on_groups();
        else if (!strncmp(line, "FREE ", 5)) { groups_slot *s = find_slot(strtoll(line + 5, NULL, 10)); if (s) free_slot(s); }
        else if (!strncmp(line, "REQUEST ", 8)) on_request(++served);
        else if (!strcmp(line, "BYE")) break;
        else { fprintf(stderr, "pcg_port: unknown message: %.80s\n", line); return 2; }
    }
    return 0;
}
#endif
