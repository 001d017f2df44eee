// rnngen.js: runs a language model exported by `rnngen export --format web` in the browser: no
// server, no network, no build step. weights.js defines RNNGEN_MODEL (the sizes, the vocabulary
// and the weights in base64); this file turns it into a model with a step function, reads a
// prime as rnngen does and writes tokens as text.
//
// The weights (as rnngen/export/web.py writes them): every matrix is stored with one row per
// output, (N, K) for y (N) = W x (K): a layer's W_ih (G, D) and W_hh (G, H), the output layer's
// W_out (V, H); G = gates * H with the gate blocks in the cell's order (LSTM [i f g o], GRU
// [r z n], Elman [h]). Layer 0 reads its input product from table0 (V, G) = embed @ W_ih by
// token (character level), or computes it from embed (V, E) (large word vocabularies). int8
// weights carry one float32 scale per row, W[n][k] ~ q[n][k] * scale[n]: they make weights.js 4x
// smaller, and are widened to float32 here once, as the page loads.
//
// The matrix-vector products, nearly all of a step's work, run in a small WebAssembly module
// with 128-bit SIMD that this file assembles itself (wasmMatvec below: the source is the
// instruction list), or, where the browser has no WebAssembly SIMD (or ?engine=js), in plain
// JavaScript over typed arrays. Both sum each output's products in order, in float32 (wasm) or
// float64 (JavaScript); the state is float32, as in rnngen. The logits agree with rnngen's to
// about 1e-6, and argmax decoding follows `rnngen sample --temp 0`.

"use strict";

const RNNGen = (() => {
  // ---- the WebAssembly product: y (N) = W x (K), W packed in panels of ROWS rows -------------

  // Panel p holds rows ROWS p .. ROWS p + ROWS - 1 of W column by column: panel[k * ROWS + i] =
  // W[ROWS p + i][k], so the module streams the weights front to back, with ROWS / 4 4-lane
  // accumulators per panel (enough independent sums to keep the adds busy).
  const ROWS = 32;

  function wasmMatvec() {
    const uleb = (n) => {
      const out = [];
      do {
        let byte = n & 0x7f;
        n >>>= 7;
        if (n) byte |= 0x80;
        out.push(byte);
      } while (n);
      return out;
    };
    const sleb = (n) => {
      const out = [];
      for (;;) {
        const byte = n & 0x7f;
        n >>= 7;
        if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) return out.concat(byte);
        out.push(byte | 0x80);
      }
    };
    const name = (s) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
    const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];
    const I32 = 0x7f, V128 = 0x7b;
    const get = (i) => [0x20, i], set = (i) => [0x21, i], tee = (i) => [0x22, i];
    const add = (i, n) => [...get(i), 0x41, ...sleb(n), 0x6a, ...set(i)]; // local i += n
    const simd = (op, ...imm) => [0xfd, ...uleb(op), ...imm];
    const memarg = (align, offset) => [...uleb(align), ...uleb(offset)];
    const [F32X4_ADD, F32X4_MUL, LOAD, LOAD32_SPLAT, STORE, CONST] = [0xe4, 0xe6, 0x00, 0x09, 0x0b, 0x0c];
    // params: 0 w (panels), 1 x, 2 y (byte offsets), 3 K, 4 panels; locals: 5 k, 6 xp (i32),
    // 7 xs (x[k] in all lanes), 8.. the accumulators (v128)
    const acc = Array.from({ length: ROWS / 4 }, (_, i) => 8 + i);
    const code = [
      0x02, 0x40, // block: done
      0x03, 0x40, //   loop: panels
      ...get(4), 0x45, 0x0d, 1, //   if no panel is left: done
      ...acc.flatMap((a) => [...simd(CONST, ...new Array(16).fill(0)), ...set(a)]),
      ...get(1), ...set(6), //       xp = x
      ...get(3), ...set(5), //       k = K
      0x03, 0x40, //     loop: k
      ...get(6), ...simd(LOAD32_SPLAT, ...memarg(2, 0)), ...set(7),
      ...acc.flatMap((a, i) => [
        ...get(a), ...get(7), ...get(0), ...simd(LOAD, ...memarg(0, 16 * i)),
        ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(a), // acc += xs * w[16 i : 16 i + 4]
      ]),
      ...add(0, 4 * ROWS), //   w += ROWS floats
      ...add(6, 4), //          xp += 1 float
      ...get(5), 0x41, 1, 0x6b, ...tee(5), 0x0d, 0, // k -= 1: again while k != 0
      0x0b, //         end loop k
      ...acc.flatMap((a, i) => [...get(2), ...get(a), ...simd(STORE, ...memarg(0, 16 * i))]),
      ...add(2, 4 * ROWS), // y += ROWS floats
      ...get(4), 0x41, 1, 0x6b, ...set(4), // panels -= 1
      0x0c, 0, //       next panel
      0x0b, //       end loop panels
      0x0b, //     end block
      0x0b, //   end function
    ];
    const locals = [2, 2, I32, 1 + acc.length, V128];
    const body = [...locals, ...code];
    return new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
      ...section(1, [1, 0x60, 5, I32, I32, I32, I32, I32, 0]), // type: (i32 x5) -> ()
      ...section(2, [1, ...name("env"), ...name("mem"), 0x02, 0x00, 1]), // import memory
      ...section(3, [1, 0]), // function 0 has type 0
      ...section(7, [1, ...name("matvec"), 0x00, 0]), // export it
      ...section(10, [1, ...uleb(body.length), ...body]), // its code
    ]);
  }

  // ---- the weights ------------------------------------------------------------------------

  function decode(tensor) {
    // base64 -> a typed array of the tensor's dtype (little-endian, as every browser is)
    const bin = atob(tensor.data);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    if (tensor.dtype === "int8") return new Int8Array(bytes.buffer);
    return new Float32Array(bytes.buffer);
  }

  // a matrix (N, K) as float32, its int8 rows widened with their scales
  function floats(tensors, name, N, K) {
    const w = decode(tensors[name]);
    if (!(w instanceof Int8Array)) return w;
    const scale = decode(tensors[name + ".scale"]);
    const out = new Float32Array(N * K);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[n * K + k] = w[n * K + k] * scale[n];
    return out;
  }

  // y (N) = W (N, K) x (K) in JavaScript: eight rows at a time (x[k] read once for all eight),
  // each a sum over k in order
  function matvecJS(W, K, N, x, y) {
    let n = 0;
    for (; n + 8 <= N; n += 8) {
      const o = n * K;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
      for (let k = 0, j = o; k < K; k++, j++) {
        const xk = x[k];
        a0 += xk * W[j];
        a1 += xk * W[j + K];
        a2 += xk * W[j + 2 * K];
        a3 += xk * W[j + 3 * K];
        a4 += xk * W[j + 4 * K];
        a5 += xk * W[j + 5 * K];
        a6 += xk * W[j + 6 * K];
        a7 += xk * W[j + 7 * K];
      }
      y[n] = a0;
      y[n + 1] = a1;
      y[n + 2] = a2;
      y[n + 3] = a3;
      y[n + 4] = a4;
      y[n + 5] = a5;
      y[n + 6] = a6;
      y[n + 7] = a7;
    }
    for (; n < N; n++) {
      const o = n * K;
      let a = 0;
      for (let k = 0; k < K; k++) a += x[k] * W[o + k];
      y[n] = a;
    }
  }

  // Where the products run: "wasm" (vectors and packed weights in the module's memory) or "js".
  class Engine {
    constructor(kind, bytes) {
      this.kind = kind;
      if (kind !== "wasm") return;
      this.memory = new WebAssembly.Memory({ initial: Math.ceil((bytes + 65536) / 65536) });
      const module = new WebAssembly.Module(wasmMatvec());
      this.wasm = new WebAssembly.Instance(module, { env: { mem: this.memory } }).exports;
      this.top = 64;
    }

    // a float32 vector of n (wasm: in the module's memory, room for whole panels)
    vector(n) {
      if (this.kind !== "wasm") return new Float32Array(n);
      const floats = Math.ceil(n / ROWS) * ROWS;
      const v = new Float32Array(this.memory.buffer, this.top, floats).subarray(0, n);
      this.top += floats * 4;
      return v;
    }

    // the matrix W (N, K) as this engine multiplies it
    matrix(W, N, K) {
      if (this.kind !== "wasm") return { w: W, N, K };
      const panels = Math.ceil(N / ROWS);
      const off = this.top, packed = new Float32Array(this.memory.buffer, off, panels * ROWS * K);
      for (let n = 0; n < N; n++) {
        const p = Math.floor(n / ROWS) * ROWS * K, i = n % ROWS;
        for (let k = 0; k < K; k++) packed[p + k * ROWS + i] = W[n * K + k];
      }
      this.top += panels * ROWS * K * 4;
      return { off, panels, N, K };
    }

    // y = M x; wasm: x and y are this engine's vectors
    matvec(M, x, y) {
      if (this.kind === "wasm") this.wasm.matvec(M.off, x.byteOffset, y.byteOffset, M.K, M.panels);
      else matvecJS(M.w, M.K, M.N, x, y);
    }
  }

  // WebAssembly with SIMD where the browser has it (and ?engine=js does not say otherwise)
  function pickEngine(wanted) {
    if (wanted === "js" || typeof WebAssembly !== "object") return "js";
    try {
      return WebAssembly.validate(wasmMatvec()) ? "wasm" : "js";
    } catch (e) {
      return "js";
    }
  }

  // ---- the cells: one layer's state s (S arrays of H), input and recurrent products x, r (G)

  // rnngen's tanh (Eigen's rational approximation for float32, here in float64): 5x faster than
  // Math.tanh, within float32 rounding of it, and what rnngen's sampler computes
  const CLAMP = 7.90531110763549805;
  function tanh(x0) {
    const x = x0 < -CLAMP ? -CLAMP : x0 > CLAMP ? CLAMP : x0;
    const x2 = x * x;
    let p = x2 * -2.76076847742355e-16 + 2.00018790482477e-13;
    p = x2 * p + -8.60467152213735e-11;
    p = x2 * p + 5.12229709037114e-8;
    p = x2 * p + 1.48572235717979e-5;
    p = x2 * p + 6.37261928875436e-4;
    p = x2 * p + 4.89352455891786e-3;
    let q = x2 * 1.19825839466702e-6 + 1.18534705686654e-4;
    q = x2 * q + 2.26843463243900e-3;
    q = x2 * q + 4.89352518554385e-3;
    return x0 >= CLAMP ? 1 : x0 <= -CLAMP ? -1 : (x * p) / q;
  }
  const sigmoid = (v) => 0.5 + 0.5 * tanh(0.5 * v);

  const CELLS = {
    // LSTM, gates [i f g o]: c = f c + i g, h = o tanh(c); one bias b
    lstm(s, x, r, b, H) {
      const h = s[0], c = s[1], bb = b[0];
      for (let j = 0; j < H; j++) {
        const i = sigmoid(x[j] + r[j] + bb[j]);
        const f = sigmoid(x[H + j] + r[H + j] + bb[H + j]);
        const g = tanh(x[2 * H + j] + r[2 * H + j] + bb[2 * H + j]);
        const o = sigmoid(x[3 * H + j] + r[3 * H + j] + bb[3 * H + j]);
        c[j] = f * c[j] + i * g;
        h[j] = o * tanh(c[j]);
      }
    },
    // GRU, gates [r z n], as torch.nn.GRU: n = tanh(x_n + b_ih_n + r (r_n + b_hh_n)),
    // h = n + z (h - n)
    gru(s, x, r, b, H) {
      const h = s[0], bi = b[0], bh = b[1];
      for (let j = 0; j < H; j++) {
        const rg = sigmoid(x[j] + bi[j] + (r[j] + bh[j]));
        const z = sigmoid(x[H + j] + bi[H + j] + (r[H + j] + bh[H + j]));
        const n = tanh(x[2 * H + j] + bi[2 * H + j] + rg * (r[2 * H + j] + bh[2 * H + j]));
        h[j] = n + z * (h[j] - n);
      }
    },
    "rnn-tanh"(s, x, r, b, H) {
      const h = s[0], bb = b[0];
      for (let j = 0; j < H; j++) h[j] = tanh(x[j] + bb[j] + r[j]);
    },
    "rnn-relu"(s, x, r, b, H) {
      const h = s[0], bb = b[0];
      for (let j = 0; j < H; j++) {
        const v = x[j] + bb[j] + r[j];
        h[j] = v < 0 ? 0 : v;
      }
    },
  };

  // ---- tokens -----------------------------------------------------------------------------

  // whitespace as Python's str.split() sees it (rnngen splits words there)
  const SPACE = /[\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

  class Model {
    // spec: RNNGEN_MODEL; engine: "wasm", "js" or undefined (the best the browser has)
    constructor(spec, engine) {
      const t = spec.tensors;
      this.spec = spec;
      this.level = spec.level;
      this.cell = CELLS[spec.cell];
      if (!this.cell) throw new Error("rnngen.js cannot run cell " + spec.cell);
      const L = (this.L = spec.layers), H = (this.H = spec.hidden), E = (this.E = spec.embed);
      const V = (this.V = spec.tokens.length), G = (this.G = spec.gates.length * H);
      this.S = spec.state.length;
      this.tokens = spec.tokens;
      this.ids = new Map(spec.tokens.map((tok, i) => [tok, i]));
      this.table = spec.layer0 === "table";
      this.startToken = spec.start_token;

      // the products' matrices, and the engine that multiplies them
      const shapes = [];
      if (!this.table) shapes.push(["layer0.W_ih", G, E]);
      for (let k = 1; k < L; k++) shapes.push([`layer${k}.W_ih`, G, H]);
      for (let k = 0; k < L; k++) shapes.push([`layer${k}.W_hh`, G, H]);
      shapes.push(["out.W", V, H]);
      const pad = (n) => Math.ceil(n / ROWS) * ROWS;
      let bytes = 4 * (pad(Math.max(H, E)) + 2 * pad(G) + pad(V)) + 1024;
      for (const [, N, K] of shapes) bytes += 4 * pad(N) * K;
      const e = (this.engine = new Engine(pickEngine(engine), bytes));
      const M = {};
      for (const [name, N, K] of shapes) M[name] = e.matrix(floats(t, name, N, K), N, K);
      this.layers = [];
      for (let k = 0; k < L; k++) {
        this.layers.push({
          W_ih: M[`layer${k}.W_ih`] || null,
          W_hh: M[`layer${k}.W_hh`],
          b: spec.biases.map((name) => decode(t[`layer${k}.${name}`])),
        });
      }
      this.out = M["out.W"];
      this.input = this.table ? floats(t, "table0", V, G) : floats(t, "embed", V, E);
      this.outB = decode(t["out.b"]);
      this.start = decode(t["start"]); // (L, S, H)
      // the engine's vectors: what is multiplied, the two products, the logits before the bias
      this.v = e.vector(Math.max(H, E));
      this.x = e.vector(G);
      this.r = e.vector(G);
      this.lg = e.vector(V);
    }

    // the state a text starts from: [layer][vector] -> Float32Array(H)
    newState() {
      const { L, S, H } = this;
      const st = [];
      for (let k = 0; k < L; k++) {
        const vs = [];
        for (let s = 0; s < S; s++) vs.push(this.start.slice((k * S + s) * H, (k * S + s + 1) * H));
        st.push(vs);
      }
      return st;
    }

    // the logits before anything is read: the output bias
    firstLogits() {
      return Float64Array.from(this.outB);
    }

    // y = M a, a copied into the engine's vector first
    product(M, a, y) {
      this.v.set(a);
      this.engine.matvec(M, this.v, y);
    }

    // read token tok: advance state st, write the next token's logits (V)
    step(st, tok, logits) {
      const { x, r, H, G } = this;
      for (let k = 0; k < this.L; k++) {
        const layer = this.layers[k];
        if (k > 0) this.product(layer.W_ih, st[k - 1][0], x);
        else if (this.table) x.set(this.input.subarray(tok * G, (tok + 1) * G));
        else this.product(layer.W_ih, this.input.subarray(tok * this.E, (tok + 1) * this.E), x);
        this.product(layer.W_hh, st[k][0], r);
        this.cell(st[k], x, r, layer.b, H);
      }
      this.product(this.out, st[this.L - 1][0], this.lg);
      for (let v = 0; v < this.V; v++) logits[v] = this.lg[v] + this.outB[v];
    }

    // the prime's token ids as rnngen reads them, the tokens it does not know (characters: the
    // prime cannot be read; words: read as <unk>)
    encode(prime) {
      const ids = [], unknown = [];
      const add = (tok) => {
        const id = this.ids.get(tok);
        if (id === undefined) {
          if (!unknown.includes(tok)) unknown.push(tok);
          if (this.level === "word") ids.push(this.ids.get("<unk>"));
        } else ids.push(id);
      };
      if (this.level === "char") {
        for (const ch of prime) add(ch);
        return { ids, unknown };
      }
      const lines = prime.split("\n");
      const open = lines.pop();
      for (const line of lines) {
        for (const w of line.split(SPACE)) if (w) add(w);
        ids.push(this.ids.get("<eos>"));
      }
      for (const w of open.split(SPACE)) if (w) add(w);
      return { ids, unknown };
    }

    // a function id -> text for what follows prime (words: a space before each word unless a
    // line starts, "<eos>" as a line break)
    decoder(prime) {
      if (this.level === "char") return (id) => this.tokens[id];
      let lineStart = prime === "" || prime.endsWith("\n");
      return (id) => {
        const tok = this.tokens[id];
        if (tok === "<eos>") {
          lineStart = true;
          return "\n";
        }
        const text = lineStart ? tok : " " + tok;
        lineStart = false;
        return text;
      };
    }

    // read the start token and the prime's ids from the start state: the state and the logits
    // that predict the first token to generate
    begin(ids) {
      const st = this.newState();
      const logits = this.firstLogits();
      const feed = (this.startToken === null ? [] : [this.startToken]).concat(ids);
      for (const id of feed) this.step(st, id, logits);
      return { st, logits };
    }
  }

  // ---- sampling ---------------------------------------------------------------------------

  // mulberry32: a small seeded generator of uniforms in [0, 1)
  function rng(seed) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  // the next token: the most likely (the first, on a tie) at temp 0, else a draw from
  // softmax(logits / temp); p (V) is scratch
  function draw(logits, temp, random, p) {
    const V = logits.length;
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
    if (!(temp > 0)) return best;
    let total = 0;
    for (let v = 0; v < V; v++) total += p[v] = Math.exp((logits[v] - logits[best]) / temp);
    const u = random() * total;
    let acc = 0;
    for (let v = 0; v < V; v++) {
      acc += p[v];
      if (u < acc && p[v] > 0) return v;
    }
    return best;
  }

  return { Model, rng, draw, wasmMatvec };
})();
