"""The C file's text, as templates (``string.Template``: ``$name``): the parts that do not depend
on the weights. ``rnngen.export.c`` picks the cell's step and the weights' type, fills in the sizes
and appends the weights.

The step keeps rnngen's sampler's arithmetic: each product summed over its inputs in order, the
input and recurrent products added as the sampler adds them, and its tanh (a rational
approximation accurate to a few float32 ulp; sigmoid(x) = (1 + tanh(x / 2)) / 2), so argmax
decoding follows ``rnngen sample --temp 0``.
"""

HEADER = """\
/*
 * $name -- $what, exported by rnngen $version
 * from $source.
 *
 * Build and run (C99 and libm, nothing else):
 *
 *     cc -O2 -std=c99 -Wall $name -lm -o model
 *     ./model -p "$example" -t 0.8 -n 500
 *
 *   -p PRIME   text to continue (printed first); default: none
 *   -t TEMP    temperature; 0 always takes the most likely token; default 1
 *   -n LENGTH  tokens to generate; default 1000
 *   -s SEED    random seed; default: from the clock
 *
 * The text goes to stdout. With -t 0 it is what `rnngen sample --temp 0` writes for the same
 * prime. With -t above 0 this file draws from its own random generator (xorshift64*), so a
 * seed gives other text than `rnngen sample --seed` does (the same seed here, the same text).
 * $quantized
 *
 * The file, top to bottom:
 *   1. sizes, the state and the weights' declarations
 *   2. the step: one token in, the next token's logits out (rnn_start, rnn_step)
 *   3. tokens: reading a prime, writing text
 *   4. sampling, and main
 *   5. the weights (generated), after the line "5. the weights"
 *
 * No malloc: the weights are static const arrays, the state is a struct the caller owns (one
 * per text being generated), and the step touches nothing else, so several states can run at
 * once. To use the model from another program, replace main: rnn_start and rnn_step are all it
 * needs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- 1. sizes, the state and the weights' declarations ------------------------------------ */

#define N_LAYERS $L             /* L */
#define N_HIDDEN $H           /* H: units per layer */
#define N_EMBED $E            /* E: width of a token's embedding */
#define N_GATES $G           /* G: gate blocks $gate_blocks, each H wide */
#define N_VOCAB $V            /* V: tokens */
#define N_STATE $S             /* state vectors per layer: $state_names */
#define START_TOKEN $start_token          /* read before the prime: $start_what */
#define WORD_LEVEL $word_level           /* 1: tokens are words, 0: characters */
#define WHAT "$what_c"

/* the state of one text: every layer's $state_names, and the step's scratch */
typedef struct {
    float s[N_LAYERS][N_STATE][N_HIDDEN];
    float x[N_GATES]; /* input product of the layer being stepped */
    float r[N_GATES]; /* its recurrent product */
} rnn_state;

$matrix_type

typedef struct {
    matrix W_ih; /* (D, G): x @ W_ih, D = E at layer 0, H above$layer0_note */
    matrix W_hh; /* (H, G): h @ W_hh */
    const float *b[$nb]; /* the biases, each (G): $bias_names */
} layer_weights;

/* defined in section 5 */
static const layer_weights LAYERS[N_LAYERS];
$input_decl
static const matrix OUT_W; /* (H, V): logits = h_top @ OUT_W + OUT_B */
static const float OUT_B[N_VOCAB];
static const float START[N_LAYERS * N_STATE * N_HIDDEN]; /* the state every text starts from */
static const char *const TOKENS[N_VOCAB]; /* token id -> its text (UTF-8) */
static const unsigned TOKEN_BYTES[N_VOCAB]; /* its length in bytes */
static const int BY_TEXT[N_VOCAB]; /* token ids, sorted by their bytes: for reading a prime */

/* ---- 2. the step ------------------------------------------------------------------------- */

$activations

$matvec

$layer0_input

$cell_step

/* The state a text starts from. */
static void rnn_start(rnn_state *st) { memcpy(st->s, START, sizeof START); }

/* Read token `tok` (0 <= tok < V): advance the state, write the next token's logits (V). */
static void rnn_step(rnn_state *st, int tok, float *logits) {
    for (int k = 0; k < N_LAYERS; k++) {
        const layer_weights *w = &LAYERS[k];
        if (k == 0)
            layer0_input(tok, st->x);
        else
            matvec(st->s[k - 1][0], N_HIDDEN, &w->W_ih, N_GATES, st->x);
        matvec(st->s[k][0], N_HIDDEN, &w->W_hh, N_GATES, st->r); /* h_{t-1} @ W_hh */
        cell_step(st->s[k], st->x, st->r, w->b);
    }
    matvec(st->s[N_LAYERS - 1][0], N_HIDDEN, &OUT_W, N_VOCAB, logits);
    for (int v = 0; v < N_VOCAB; v++) logits[v] += OUT_B[v];
}
"""

MATRIX_F32 = """\
/* a weight matrix (K, N), row-major: row k holds the N weights that input k feeds */
typedef struct {
    const float *w;
} matrix;"""

MATRIX_I8 = """\
/* a weight matrix (K, N) in int8, row-major, with one scale per output column:
 * W[k][n] ~ q[k * N + n] * scale[n] */
typedef struct {
    const int8_t *q;
    const float *scale;
} matrix;"""

MATVEC_F32 = """\
/* y (N) = x (K) @ W (K, N). Each output sums its K products in order, as rnngen's sampler does.
 * Four rows of W at a time, in blocks of 16 columns: a shape compilers vectorise at -O2, and
 * each y[n] is loaded and stored once per four rows; the sums' order is the same. */
static void matvec(const float *restrict x, int K, const matrix *W, int N, float *restrict y) {
    for (int n = 0; n < N; n++) y[n] = 0.0f;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        const float x0 = x[k], x1 = x[k + 1], x2 = x[k + 2], x3 = x[k + 3];
        const float *r0 = W->w + (size_t)k * N, *r1 = r0 + N, *r2 = r1 + N, *r3 = r2 + N;
        int n = 0;
        for (; n + 16 <= N; n += 16) {
            float *restrict yb = y + n;
            const float *b0 = r0 + n, *b1 = r1 + n, *b2 = r2 + n, *b3 = r3 + n;
            for (int i = 0; i < 16; i++)
                yb[i] = (((yb[i] + x0 * b0[i]) + x1 * b1[i]) + x2 * b2[i]) + x3 * b3[i];
        }
        for (; n < N; n++) y[n] = (((y[n] + x0 * r0[n]) + x1 * r1[n]) + x2 * r2[n]) + x3 * r3[n];
    }
    for (; k < K; k++) {
        const float *restrict row = W->w + (size_t)k * N;
        for (int n = 0; n < N; n++) y[n] += x[k] * row[n];
    }
}"""

MATVEC_I8 = """\
/* y (N) = x (K) @ W (K, N): the int8 products summed in order, then each column's scale.
 * Four rows of W at a time, in blocks of 16 columns, as the float32 version. */
static void matvec(const float *restrict x, int K, const matrix *W, int N, float *restrict y) {
    for (int n = 0; n < N; n++) y[n] = 0.0f;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        const float x0 = x[k], x1 = x[k + 1], x2 = x[k + 2], x3 = x[k + 3];
        const int8_t *r0 = W->q + (size_t)k * N, *r1 = r0 + N, *r2 = r1 + N, *r3 = r2 + N;
        int n = 0;
        for (; n + 16 <= N; n += 16) {
            float *restrict yb = y + n;
            const int8_t *b0 = r0 + n, *b1 = r1 + n, *b2 = r2 + n, *b3 = r3 + n;
            for (int i = 0; i < 16; i++)
                yb[i] = (((yb[i] + x0 * (float)b0[i]) + x1 * (float)b1[i]) + x2 * (float)b2[i]) +
                        x3 * (float)b3[i];
        }
        for (; n < N; n++)
            y[n] = (((y[n] + x0 * (float)r0[n]) + x1 * (float)r1[n]) + x2 * (float)r2[n]) +
                   x3 * (float)r3[n];
    }
    for (; k < K; k++) {
        const int8_t *restrict row = W->q + (size_t)k * N;
        for (int n = 0; n < N; n++) y[n] += x[k] * (float)row[n];
    }
    for (int n = 0; n < N; n++) y[n] *= W->scale[n];
}"""

# layer 0's input product: a row of the table embed @ W_ih (character level), or the embedding
# times W_ih (a large word vocabulary, where the table would be the largest array by far)
INPUT_DECL = {
    ("table", False): "static const float TABLE0[N_VOCAB * N_GATES]; /* (V, G) embed @ W_ih0 */",
    ("table", True): (
        "static const int8_t TABLE0_Q[N_VOCAB * N_GATES]; /* (V, G) embed @ W_ih0 ... */\n"
        "static const float TABLE0_SCALE[N_VOCAB];        /* ... ~ row v of TABLE0_Q * scale[v] */"
    ),
    ("embed", False): "static const float EMBED[N_VOCAB * N_EMBED]; /* (V, E) */",
    ("embed", True): (
        "static const int8_t EMBED_Q[N_VOCAB * N_EMBED]; /* (V, E) ... */\n"
        "static const float EMBED_SCALE[N_VOCAB];        /* ... ~ row v of EMBED_Q * scale[v] */"
    ),
}

INPUT_FN = {
    ("table", False): """\
/* layer 0's input product: token tok's row of TABLE0 = embed @ W_ih0, computed at export */
static void layer0_input(int tok, float *x) {
    memcpy(x, TABLE0 + (size_t)tok * N_GATES, N_GATES * sizeof *x);
}""",
    ("table", True): """\
/* layer 0's input product: token tok's row of TABLE0 = embed @ W_ih0, computed at export */
static void layer0_input(int tok, float *x) {
    const int8_t *q = TABLE0_Q + (size_t)tok * N_GATES;
    for (int n = 0; n < N_GATES; n++) x[n] = (float)q[n] * TABLE0_SCALE[tok];
}""",
    ("embed", False): """\
/* layer 0's input product: token tok's embedding @ W_ih0 */
static void layer0_input(int tok, float *x) {
    matvec(EMBED + (size_t)tok * N_EMBED, N_EMBED, &LAYERS[0].W_ih, N_GATES, x);
}""",
    ("embed", True): """\
/* layer 0's input product: token tok's embedding @ W_ih0 */
static void layer0_input(int tok, float *x) {
    float e[N_EMBED];
    const int8_t *q = EMBED_Q + (size_t)tok * N_EMBED;
    for (int i = 0; i < N_EMBED; i++) e[i] = (float)q[i] * EMBED_SCALE[tok];
    matvec(e, N_EMBED, &LAYERS[0].W_ih, N_GATES, x);
}""",
}

CELL_STEP = {
    "lstm": """\
/* The LSTM cell, gate blocks [i | f | g | o] of a = x + r + b:
 *     i, f, o = sigmoid(a_i, a_f, a_o)   g = tanh(a_g)   c = f c + i g   h = o tanh(c)
 * s: this layer's h and c, updated in place. */
static void cell_step(float s[N_STATE][N_HIDDEN], const float *x, const float *r,
                      const float *const *b) {
    const int H = N_HIDDEN;
    float *h = s[0], *c = s[1];
    for (int j = 0; j < H; j++) {
        float i = sigmoid_(x[j] + r[j] + b[0][j]);
        float f = sigmoid_(x[H + j] + r[H + j] + b[0][H + j]);
        float g = tanh_(x[2 * H + j] + r[2 * H + j] + b[0][2 * H + j]);
        float o = sigmoid_(x[3 * H + j] + r[3 * H + j] + b[0][3 * H + j]);
        c[j] = f * c[j] + i * g;
        h[j] = o * tanh_(c[j]);
    }
}""",
    "gru": """\
/* The GRU cell, gate blocks [r | z | n], as torch.nn.GRU: with b_ih and b_hh apart, because the
 * reset gate multiplies the recurrent part of the candidate, its bias included:
 *     r = sigmoid((x_r + b_ih_r) + (r_r + b_hh_r))     z likewise
 *     n = tanh((x_n + b_ih_n) + r (r_n + b_hh_n))       h = n + z (h - n)
 * s: this layer's h, updated in place. */
static void cell_step(float s[N_STATE][N_HIDDEN], const float *x, const float *r,
                      const float *const *b) {
    const int H = N_HIDDEN;
    const float *b_ih = b[0], *b_hh = b[1];
    float *h = s[0];
    for (int j = 0; j < H; j++) {
        float rg = sigmoid_((x[j] + b_ih[j]) + (r[j] + b_hh[j]));
        float z = sigmoid_((x[H + j] + b_ih[H + j]) + (r[H + j] + b_hh[H + j]));
        float hn = r[2 * H + j] + b_hh[2 * H + j];
        float n = tanh_((x[2 * H + j] + b_ih[2 * H + j]) + rg * hn);
        h[j] = n + z * (h[j] - n);
    }
}""",
    "rnn-tanh": """\
/* The Elman cell with tanh: h = tanh((x + b) + r). s: this layer's h, updated in place. */
static void cell_step(float s[N_STATE][N_HIDDEN], const float *x, const float *r,
                      const float *const *b) {
    for (int j = 0; j < N_HIDDEN; j++) s[0][j] = tanh_((x[j] + b[0][j]) + r[j]);
}""",
    "rnn-relu": """\
/* The Elman cell with ReLU: h = max((x + b) + r, 0). s: this layer's h, updated in place. */
static void cell_step(float s[N_STATE][N_HIDDEN], const float *x, const float *r,
                      const float *const *b) {
    for (int j = 0; j < N_HIDDEN; j++) {
        float v = (x[j] + b[0][j]) + r[j];
        s[0][j] = v < 0.0f ? 0.0f : v;
    }
}""",
}

TOKENS_AND_MAIN = r"""
/* ---- 3. tokens: reading a prime, writing text ------------------------------------------------ */

/* The token whose text is the n bytes at p, or -1: a binary search of BY_TEXT. */
static int find_token(const char *p, size_t n) {
    int lo = 0, hi = N_VOCAB - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, id = BY_TEXT[mid];
        size_t m = TOKEN_BYTES[id];
        int cmp = memcmp(TOKENS[id], p, m < n ? m : n);
        if (cmp == 0) cmp = (m > n) - (m < n);
        if (cmp == 0) return id;
        if (cmp < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* The length of the UTF-8 character at p (1 for a byte that starts none), and its code point. */
static size_t utf8_char(const unsigned char *p, uint32_t *cp) {
    size_t n = p[0] < 0x80          ? 1
               : (p[0] >> 5) == 6  ? 2
               : (p[0] >> 4) == 14 ? 3
               : (p[0] >> 3) == 30 ? 4
                                   : 0;
    if (n == 0) {
        *cp = 0xFFFD;
        return 1;
    }
    uint32_t c = n == 1 ? p[0] : p[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        c = (c << 6) | (p[i] & 0x3F);
    }
    *cp = c;
    return n;
}

/* Whitespace as Python's str.split() sees it (rnngen splits words there). */
static int is_space(uint32_t c) {
    return (c >= 9 && c <= 13) || (c >= 28 && c <= 32) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The prime's tokens, as rnngen reads a prime: each character (character level), or each word,
 * with "<eos>" after every line break and words the model does not know as "<unk>" (word level).
 * Calls feed(ctx, id) for each; returns the number of characters the model does not know
 * (character level; they are reported on stderr and nothing is fed). */
static int read_prime(const char *prime, void (*feed)(void *, int), void *ctx) {
    const unsigned char *p = (const unsigned char *)prime;
    int unknown = 0;
    if (!WORD_LEVEL) {
        for (int pass = 0; pass < 2 && !unknown; pass++)
            for (size_t i = 0, n; p[i]; i += n) {
                uint32_t cp;
                n = utf8_char(p + i, &cp);
                int id = find_token((const char *)p + i, n);
                if (pass == 1)
                    feed(ctx, id);
                else if (id < 0) {
                    fprintf(stderr, "%s '%.*s'", unknown ? "," : "error: the prime has characters "
                            "the model does not know:", (int)n, (const char *)p + i);
                    unknown++;
                }
            }
        if (unknown) fprintf(stderr, "\n");
        return unknown;
    }
    int unk = find_token("<unk>", 5), eos = find_token("<eos>", 5);
    size_t word = 0, i = 0, n = 0;
    int in_word = 0;
    for (;; i += n) {
        uint32_t cp = 0;
        n = p[i] ? utf8_char(p + i, &cp) : 0;
        int space = n == 0 || is_space(cp);
        if (in_word && space) {
            int id = find_token((const char *)p + word, i - word);
            if (id < 0) {
                fprintf(stderr, "%s '%.*s'", unknown ? "," : "warning: prime words not in the "
                        "vocabulary, read as <unk>:", (int)(i - word), (const char *)p + word);
                unknown++;
            }
            feed(ctx, id < 0 ? unk : id);
            in_word = 0;
        } else if (!in_word && !space) {
            word = i;
            in_word = 1;
        }
        if (n == 0) break;
        if (cp == '\n') feed(ctx, eos);
    }
    if (unknown) fprintf(stderr, "\n");
    return 0;
}

/* Writes tokens as text: at word level, words joined by spaces and "<eos>" as a line break. */
typedef struct {
    int at_line_start;
} writer;

static void write_token(writer *w, int id) {
    if (WORD_LEVEL) {
        if (strcmp(TOKENS[id], "<eos>") == 0) {
            fputc('\n', stdout);
            w->at_line_start = 1;
            return;
        }
        if (!w->at_line_start) fputc(' ', stdout);
        w->at_line_start = 0;
    }
    fwrite(TOKENS[id], 1, TOKEN_BYTES[id], stdout);
}

/* ---- 4. sampling, and main ------------------------------------------------------------------- */

/* xorshift64* (Vigna 2016), seeded through splitmix64 */
static uint64_t rng_state;

static void rng_seed(uint64_t seed) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    rng_state = (z ^ (z >> 31)) | 1;
}

static double rng_uniform(void) { /* in [0, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* The next token: the most likely one at temp 0 (the first, on a tie), else a draw from
 * softmax(logits / temp). p (V) is scratch. */
static int draw(const float *logits, float temp, float *p) {
    int best = 0;
    for (int v = 1; v < N_VOCAB; v++)
        if (logits[v] > logits[best]) best = v;
    if (temp <= 0.0f) return best;
    double total = 0.0;
    for (int v = 0; v < N_VOCAB; v++) {
        p[v] = expf((logits[v] - logits[best]) / temp);
        total += p[v];
    }
    double u = rng_uniform() * total, acc = 0.0;
    for (int v = 0; v < N_VOCAB; v++) {
        acc += p[v];
        if (u < acc && p[v] > 0.0f) return v;
    }
    return best;
}

typedef struct {
    rnn_state *st;
    float *logits;
} reader;

static void feed_token(void *ctx, int id) {
    reader *r = ctx;
    rnn_step(r->st, id, r->logits);
}

#define HELP "usage: %s [-p PRIME] [-t TEMP] [-n LENGTH] [-s SEED]\n\n" \
    "Generate text from " WHAT ".\n\n" \
    "  -p PRIME   text to continue (printed first); default: none\n" \
    "  -t TEMP    temperature; 0 always takes the most likely token; default 1\n" \
    "  -n LENGTH  tokens to generate; default 1000\n" \
    "  -s SEED    random seed; default: from the clock\n"

static int usage(const char *prog) {
    fprintf(stderr, "usage: %s [-p PRIME] [-t TEMP] [-n LENGTH] [-s SEED]\n", prog);
    return 2;
}

int main(int argc, char **argv) {
    const char *prime = "";
    float temp = 1.0f;
    long length = 1000;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    for (int a = 1; a < argc; a++) {
        const char *flag = argv[a];
        if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) {
            printf(HELP, argv[0]);
            return 0;
        }
        if (a + 1 >= argc || flag[0] != '-' || !flag[1] || !strchr("ptns", flag[1]) || flag[2])
            return usage(argv[0]);
        const char *value = argv[++a];
        char *end;
        if (flag[1] == 'p') {
            prime = value;
            continue;
        }
        if (flag[1] == 't') {
            temp = strtof(value, &end);
            if (*end || end == value || !(temp >= 0.0f)) {
                fprintf(stderr, "error: -t takes a number >= 0 (got '%s')\n", value);
                return 2;
            }
        } else {
            long long n = strtoll(value, &end, 10);
            if (*end || end == value || n < 0) {
                fprintf(stderr, "error: -%c takes a whole number >= 0 (got '%s')\n", flag[1],
                        value);
                return 2;
            }
            if (flag[1] == 'n') length = (long)n;
            else seed = (uint64_t)n;
        }
    }
    static rnn_state st;
    static float logits[N_VOCAB], p[N_VOCAB];
    reader r = {&st, logits};
    rnn_start(&st);
    memcpy(logits, OUT_B, sizeof logits); /* what the model predicts having read nothing */
    if (START_TOKEN >= 0) rnn_step(&st, START_TOKEN, logits);
    if (read_prime(prime, feed_token, &r)) return 1;
    rng_seed(seed);
    size_t np = strlen(prime);
    writer w = {np == 0 || prime[np - 1] == '\n'};
    fputs(prime, stdout);
    for (long i = 0; i < length; i++) {
        int tok = draw(logits, temp, p);
        write_token(&w, tok);
        if (i + 1 < length) rnn_step(&st, tok, logits);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- 5. the weights ------------------------------------------------------------------------ */
"""

ACTIVATIONS = {
    "tanh": """\
/* rnngen's tanh for float32 (Eigen's rational approximation), so the logits follow rnngen's */
static float tanh_(float x0) {
    const float clamp = 7.90531110763549805f;
    float x = x0 < -clamp ? -clamp : (x0 > clamp ? clamp : x0);
    float x2 = x * x;
    float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
    p = x2 * p + -8.60467152213735e-11f;
    p = x2 * p + 5.12229709037114e-08f;
    p = x2 * p + 1.48572235717979e-05f;
    p = x2 * p + 6.37261928875436e-04f;
    p = x2 * p + 4.89352455891786e-03f;
    float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
    q = x2 * q + 2.26843463243900e-03f;
    q = x2 * q + 4.89352518554385e-03f;
    if (x0 >= clamp) return 1.0f;
    if (x0 <= -clamp) return -1.0f;
    return x * p / q;
}""",
    "sigmoid": """\
static float sigmoid_(float x) { return 0.5f + 0.5f * tanh_(0.5f * x); }""",
}

# the activations each cell's step calls
USES = {
    "lstm": ("tanh", "sigmoid"),
    "gru": ("tanh", "sigmoid"),
    "rnn-tanh": ("tanh",),
    "rnn-relu": (),
}
