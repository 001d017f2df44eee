// rnngen.js: runs a language model exported by `rnngen export --format web`, in plain
// JavaScript over typed arrays: no server, no network, no build step. weights.js defines
// RNNGEN_MODEL (the sizes, the vocabulary and the weights in base64); this file turns it into a
// model with a step function, reads a prime as rnngen does and writes tokens as text.
//
// Layout of the weights (as rnngen.export.web writes them): every matrix is stored with one row
// per output, (N, K) for y (N) = W x (K): a layer's W_ih (G, D) and W_hh (G, H), the output
// layer's W_out (V, H); G = gates * H with the gate blocks in the cell's order (LSTM [i f g o],
// GRU [r z n], Elman [h]). Layer 0 reads its input product from table0 (V, G) = embed @ W_ih by
// token (character level), or computes it from embed (V, E) (large word vocabularies). int8
// weights carry one float32 scale per row: W[n][k] ~ q[n][k] * scale[n].
//
// Activations are float64 (JavaScript's numbers); the logits agree with rnngen's float32 sampler
// to about 1e-6, and argmax decoding follows `rnngen sample --temp 0`.

"use strict";

const RNNGen = (() => {
  // ---- the weights ------------------------------------------------------------------------

  function decode(tensor) {
    // base64 -> a typed array of the tensor's dtype (little-endian, as every browser is)
    const bin = atob(tensor.data);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    if (tensor.dtype === "int8") return new Int8Array(bytes.buffer);
    return new Float32Array(bytes.buffer);
  }

  // y (N) = W (N, K) x (K) [* scale (N)]: four rows at a time, each a sum over k in order
  function matvecF32(W, K, N, x, y) {
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const o0 = n * K, o1 = o0 + K, o2 = o1 + K, o3 = o2 + K;
      let a = 0, b = 0, c = 0, d = 0;
      for (let k = 0; k < K; k++) {
        const xk = x[k];
        a += xk * W[o0 + k];
        b += xk * W[o1 + k];
        c += xk * W[o2 + k];
        d += xk * W[o3 + k];
      }
      y[n] = a;
      y[n + 1] = b;
      y[n + 2] = c;
      y[n + 3] = d;
    }
    for (; n < N; n++) {
      const o = n * K;
      let a = 0;
      for (let k = 0; k < K; k++) a += x[k] * W[o + k];
      y[n] = a;
    }
  }

  function matvecI8(W, scale, K, N, x, y) {
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const o0 = n * K, o1 = o0 + K, o2 = o1 + K, o3 = o2 + K;
      let a = 0, b = 0, c = 0, d = 0;
      for (let k = 0; k < K; k++) {
        const xk = x[k];
        a += xk * W[o0 + k];
        b += xk * W[o1 + k];
        c += xk * W[o2 + k];
        d += xk * W[o3 + k];
      }
      y[n] = a * scale[n];
      y[n + 1] = b * scale[n + 1];
      y[n + 2] = c * scale[n + 2];
      y[n + 3] = d * scale[n + 3];
    }
    for (; n < N; n++) {
      const o = n * K;
      let a = 0;
      for (let k = 0; k < K; k++) a += x[k] * W[o + k];
      y[n] = a * scale[n];
    }
  }

  // a matrix: {w, scale (int8 only), rows, cols}; y = W x
  function matvec(M, x, y) {
    if (M.scale) matvecI8(M.w, M.scale, M.cols, M.rows, x, y);
    else matvecF32(M.w, M.cols, M.rows, x, y);
  }

  // ---- the cells: one layer's state s (S arrays of H), input and recurrent products x, r (G)

  const sigmoid = (v) => 1 / (1 + Math.exp(-v));

  const CELLS = {
    // LSTM, gates [i f g o]: c = f c + i g, h = o tanh(c); one bias b
    lstm(s, x, r, b, H) {
      const h = s[0], c = s[1], bb = b[0];
      for (let j = 0; j < H; j++) {
        const i = sigmoid(x[j] + r[j] + bb[j]);
        const f = sigmoid(x[H + j] + r[H + j] + bb[H + j]);
        const g = Math.tanh(x[2 * H + j] + r[2 * H + j] + bb[2 * H + j]);
        const o = sigmoid(x[3 * H + j] + r[3 * H + j] + bb[3 * H + j]);
        c[j] = f * c[j] + i * g;
        h[j] = o * Math.tanh(c[j]);
      }
    },
    // GRU, gates [r z n], as torch.nn.GRU: n = tanh(x_n + b_ih_n + r (r_n + b_hh_n)),
    // h = n + z (h - n)
    gru(s, x, r, b, H) {
      const h = s[0], bi = b[0], bh = b[1];
      for (let j = 0; j < H; j++) {
        const rg = sigmoid(x[j] + bi[j] + (r[j] + bh[j]));
        const z = sigmoid(x[H + j] + bi[H + j] + (r[H + j] + bh[H + j]));
        const n = Math.tanh(x[2 * H + j] + bi[2 * H + j] + rg * (r[2 * H + j] + bh[2 * H + j]));
        h[j] = n + z * (h[j] - n);
      }
    },
    "rnn-tanh"(s, x, r, b, H) {
      const h = s[0], bb = b[0];
      for (let j = 0; j < H; j++) h[j] = Math.tanh(x[j] + bb[j] + r[j]);
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
    constructor(spec) {
      const t = spec.tensors;
      const int8 = spec.dtype === "int8";
      const mat = (name, rows, cols) => ({
        w: decode(t[name]),
        scale: int8 ? decode(t[name + ".scale"]) : null,
        rows,
        cols,
      });
      this.spec = spec;
      this.level = spec.level;
      this.cell = CELLS[spec.cell];
      if (!this.cell) throw new Error("rnngen.js cannot run cell " + spec.cell);
      const L = (this.L = spec.layers), H = (this.H = spec.hidden), E = spec.embed;
      const V = (this.V = spec.tokens.length), G = (this.G = spec.gates.length * H);
      this.S = spec.state.length;
      this.tokens = spec.tokens;
      this.ids = new Map(spec.tokens.map((tok, i) => [tok, i]));
      this.table = spec.layer0 === "table";
      this.input = this.table ? mat("table0", V, G) : mat("embed", V, E);
      this.layers = [];
      for (let k = 0; k < L; k++) {
        const p = "layer" + k + ".";
        this.layers.push({
          W_ih: k === 0 && this.table ? null : mat(p + "W_ih", G, k ? H : E),
          W_hh: mat(p + "W_hh", G, H),
          b: spec.biases.map((name) => decode(t[p + name])),
        });
      }
      this.out = mat("out.W", V, H);
      this.outB = decode(t["out.b"]);
      this.start = decode(t["start"]); // (L, S, H)
      this.startToken = spec.start_token;
      this.x = new Float64Array(G);
      this.r = new Float64Array(G);
      this.e = new Float64Array(E);
    }

    // the state a text starts from: [layer][vector] -> Float64Array(H)
    newState() {
      const { L, S, H } = this;
      const st = [];
      for (let k = 0; k < L; k++) {
        const vs = [];
        for (let s = 0; s < S; s++) vs.push(Float64Array.from(this.start.subarray((k * S + s) * H, (k * S + s + 1) * H)));
        st.push(vs);
      }
      return st;
    }

    // the logits before anything is read: the output bias
    firstLogits() {
      return Float64Array.from(this.outB);
    }

    // layer 0's input product for token tok, into this.x
    inputProduct(tok) {
      const { G, x } = this, M = this.input;
      if (this.table) {
        const o = tok * G;
        if (M.scale) for (let n = 0; n < G; n++) x[n] = M.w[o + n] * M.scale[tok];
        else for (let n = 0; n < G; n++) x[n] = M.w[o + n];
        return;
      }
      const E = M.cols, o = tok * E, e = this.e;
      for (let i = 0; i < E; i++) e[i] = M.scale ? M.w[o + i] * M.scale[tok] : M.w[o + i];
      matvec(this.layers[0].W_ih, e, x);
    }

    // read token tok: advance state st, write the next token's logits (V)
    step(st, tok, logits) {
      const { x, r, H } = this;
      for (let k = 0; k < this.L; k++) {
        const layer = this.layers[k];
        if (k === 0) this.inputProduct(tok);
        else matvec(layer.W_ih, st[k - 1][0], x);
        matvec(layer.W_hh, st[k][0], r);
        this.cell(st[k], x, r, layer.b, H);
      }
      matvec(this.out, st[this.L - 1][0], logits);
      for (let v = 0; v < this.V; v++) logits[v] += this.outB[v];
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

  return { Model, rng, draw };
})();
