// page.js: the page around rnngen.js. It reads the URL parameters prime, temp, length, seed,
// autostart=1 and debug=logits, generates in small chunks between which it yields to the browser
// (setTimeout), streams the text into <pre id="output"> (the generated text, without the prime)
// and writes its measured speed into #speed. body[data-state] says where it is: loading, ready,
// running, done, stopped or error; body[data-engine] what runs the products (wasm or js;
// ?engine=js asks for JavaScript).

"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const params = new URLSearchParams(location.search);
  const CHUNK_MS = 25; // aimed time per chunk: the page stays responsive, yields cost little

  let model;
  try {
    model = new RNNGen.Model(RNNGEN_MODEL, params.get("engine") || undefined);
  } catch (e) {
    body.dataset.state = "error";
    $("status").textContent = "could not load the model: " + e.message;
    return;
  }
  const spec = RNNGEN_MODEL;
  const levelName = spec.level === "char" ? "character" : "word";
  const cellName = { lstm: "LSTM", gru: "GRU", "rnn-tanh": "Elman RNN (tanh)", "rnn-relu": "Elman RNN (ReLU)" }[spec.cell] || spec.cell;
  $("name").textContent = spec.name || "rnngen model";
  document.title = (spec.name || "rnngen model") + " \u2014 rnngen";
  $("about").textContent =
    `${levelName}-level ${cellName}, ${spec.layers} \u00d7 ${spec.hidden} units, ` +
    `${spec.tokens.length.toLocaleString("en")} tokens, ` +
    `${(spec.params / 1e6).toFixed(2)}M ${spec.dtype} weights`;
  $("version").textContent = "rnngen " + spec.rnngen;
  $("engine").textContent = model.engine.kind === "wasm" ? "WebAssembly SIMD" : "JavaScript";
  body.dataset.engine = model.engine.kind;

  // ---- the controls, from the URL --------------------------------------------------------

  const prime = $("prime"), temp = $("temp"), length = $("length"), seed = $("seed");
  // the URL's temperature exactly (the slider snaps to its steps), until the slider moves
  let urlTemp = params.has("temp") ? Math.max(0, Number(params.get("temp")) || 0) : null;
  const tempNow = () => (urlTemp === null ? Number(temp.value) : urlTemp);
  const showTemp = () => ($("temp-value").textContent = tempNow().toFixed(2));
  if (params.has("prime")) prime.value = params.get("prime");
  if (urlTemp !== null) temp.value = String(urlTemp);
  if (params.has("length")) length.value = params.get("length");
  if (params.has("seed")) seed.value = params.get("seed");
  temp.addEventListener("input", () => {
    urlTemp = null;
    showTemp();
  });
  showTemp();

  // ---- generating ------------------------------------------------------------------------

  let run = null; // the generation under way: {stopped}

  function setState(state, status) {
    body.dataset.state = state;
    $("status").textContent = status;
    $("generate").disabled = state === "running";
    $("stop").disabled = state !== "running";
  }

  // tokens per second of computing; none when the clock stood still over a long chunk (a
  // browser under virtual time, as --virtual-time-budget runs it: there is nothing to time)
  function showSpeed(tokens, ms, frozen) {
    const el = $("speed");
    if (ms > 0 && !frozen) {
      const perSecond = (tokens / ms) * 1000;
      el.textContent = Math.round(perSecond).toLocaleString("en") + " tokens/s";
      el.dataset.tokensPerSecond = perSecond.toFixed(1);
      el.title = "tokens generated per second of computing";
    } else {
      el.textContent = "\u2013 tokens/s";
      delete el.dataset.tokensPerSecond;
      el.title = "the page's clock did not advance while it computed: no speed to show";
    }
  }

  function start() {
    if (run) run.stopped = true;
    const text = prime.value;
    const t = tempNow();
    const n = Math.max(0, Math.floor(Number(length.value) || 0));
    const s = seed.value === "" ? crypto.getRandomValues(new Uint32Array(1))[0] : Number(seed.value) >>> 0;
    const { ids, unknown } = model.encode(text);
    $("message").textContent = "";
    if (unknown.length && model.level === "char") {
      $("message").textContent =
        "the prime has characters the model does not know: " + unknown.map((c) => JSON.stringify(c)).join(", ");
      setState("error", "not started");
      return;
    }
    if (unknown.length) {
      $("message").textContent =
        "read as <unk>: " + unknown.slice(0, 10).map((w) => JSON.stringify(w)).join(", ");
    }
    $("shown-prime").textContent = text;
    const out = $("output");
    out.textContent = "";
    const sink = out.appendChild(document.createTextNode(""));
    $("count").textContent = "0";
    $("speed").textContent = "\u2013";
    const me = (run = { stopped: false });
    setState("running", `generating \u00b7 seed ${s}`);

    let st, logits, decode, random, p;
    let done = 0, busy = 0, chunk = 4, perToken = 0, frozen = false;
    function tick() {
      if (me.stopped) {
        if (run === me) setState("stopped", `stopped \u00b7 seed ${s}`);
        return;
      }
      if (!st) {
        ({ st, logits } = model.begin(ids)); // reading the prime
        if (params.get("debug") === "logits") $("debug").textContent = JSON.stringify(Array.from(logits));
        decode = model.decoder(text);
        random = RNNGen.rng(s);
        p = new Float64Array(model.V);
      }
      const t0 = performance.now();
      const k = Math.min(chunk, n - done);
      let piece = "";
      for (let i = 0; i < k; i++) {
        const tok = RNNGen.draw(logits, t, random, p);
        piece += decode(tok);
        done++;
        if (done < n) model.step(st, tok, logits);
      }
      const dt = performance.now() - t0;
      busy += dt;
      // a chunk that took a millisecond or more by the earlier chunks' pace, on a clock that
      // did not move: the clock is virtual
      frozen = frozen || (dt === 0 && perToken * k >= 1);
      if (dt > 0) perToken = dt / k;
      sink.appendData(piece);
      $("count").textContent = done.toLocaleString("en");
      showSpeed(done, busy, frozen);
      // tokens per chunk: about CHUNK_MS of work (grows when the clock stands still)
      chunk = Math.max(1, Math.min(4096, dt > 0 ? Math.round((chunk * CHUNK_MS) / dt) : chunk * 2));
      if (done >= n) {
        run = null;
        setState("done", `done \u00b7 seed ${s}`);
        return;
      }
      setTimeout(tick, 0);
    }
    setTimeout(tick, 0);
  }

  $("controls").addEventListener("submit", (e) => {
    e.preventDefault();
    start();
  });
  $("stop").addEventListener("click", () => {
    if (run) run.stopped = true;
  });
  prime.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      start();
    }
  });

  setState("ready", "ready");
  if (params.get("autostart") === "1") start();
})();
