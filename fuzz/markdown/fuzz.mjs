// Fuzzes public/js/lib/markdown.js (the renderer of card descriptions and comments) under node,
// with no package from a registry: a seeded mutation fuzzer over fuzz/corpus/markdown.
//
// Oracles, for every input:
//   - no exception;
//   - no input over the CPU-time budget (100 ms, TACK_FUZZ_SLOW_MS), also for inputs pumped to
//     the largest description the API accepts (100,000 characters); a time over 10 ms is taken
//     again (twice at most, the lowest kept: V8's compiler and collector threads count in the
//     process's CPU time); a hang is caught by a watchdog that stops the worker after 10 s of
//     wall time and reports the input;
//   - safe HTML: every tag is one the renderer writes (p, br, strong, em, code, a, ul, ol, li, h3-h5,
//     blockquote, pre, table parts, a task's disabled checkbox), the only attributes are an a's href
//     (http or https only), target and rel and the checkbox's own, every '&' starts
//     one of the five entities escapeHTML writes, no raw '>' or quote outside tags, no NUL (a
//     placeholder leaking) — so nothing from the input becomes a tag, an on*= attribute or a
//     javascript: URL;
//   - well nested: every tag the renderer opens is closed, in order (br and input are void);
//   - no text lost: every letter of the input is in the output (as text or in an href), but a
//     task's "x" and a code fence's language, which are dropped on purpose;
//   - tasks agree: toggleTask(input, k) (what ticking box k saves) renders as the same boxes with
//     only box k flipped, so the page never ticks one box and saves another.
//
// usage: node fuzz/markdown/fuzz.mjs [--runs N | --seconds S] [--seed N] [--artifacts DIR]
// Prints the libFuzzer-like summary line `stat: runs=… exec/s=… cov=… findings=…` (then the slowest
// times: pumped_slowest_first_ms is the worst first try, before taking it again); exit 1 on a finding.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const MAX_INPUT = 200_000;
/// Above this, an input's time is taken again (see check).
const RETIME_MS = 10;

function report(config, finding, input) {
  mkdirSync(config.artifacts, { recursive: true });
  const file = join(config.artifacts, `markdown-crash-${Date.now()}.md`);
  writeFileSync(file, input);
  console.error(`FUZZ FINDING (markdown): ${finding}\ninput (${input.length} characters) written to ${file}: ${JSON.stringify(input.slice(0, 300))}`);
}

async function fuzz(config) {
  // Coverage from V8's precise coverage (node 19+; on an older node the figure is "-").
  let session = null;
  try {
    const { Session } = await import('node:inspector/promises');
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  } catch {
    session = null;
  }
  const sourcePath = join(root, 'public', 'js', 'lib', 'markdown.js');
  // Imported from its text: public/js has no package.json saying its .js files are ES modules.
  const moduleURL = 'data:text/javascript;base64,' + readFileSync(sourcePath).toString('base64');
  const { render, toggleTask } = await import(moduleURL);

  const progress = new Int32Array(config.shared, 0, 2);
  const slot = new Uint16Array(config.shared, 8, MAX_INPUT);
  const corpusDir = join(root, 'fuzz', 'corpus', 'markdown');
  const corpus = readdirSync(corpusDir).sort().map((name) => readFileSync(join(corpusDir, name), 'utf8'));
  let state = (config.seed >>> 0) || 1;
  const random = (n) => { // xorshift32: reproducible runs for a given --seed
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state % n;
  };
  const tokens = ['**', '*', '`', '[', ']', '](', '(', ')', 'http://', 'https://', 'HTTPS://', 'javascript:', 'data:',
    '<script>', '</script>', '<img src=x onerror=alert(1)>', '" onmouseover="x', "'", '"', '<', '>', '&', '&amp;', '&#',
    '&lt;', '\n', '\n\n', '\r\n', '\r', '- ', '* ', '+ ', '1. ', '12) ', '  ', '\t', '\u0000', '\u00000\u0000',
    '\u00001\u0000', '_', '\\', 'é', '\u2028', '😀', '.', ',', '!', '?', ';', ':', 'a', 'Z', ' ', 'undefined', '$1', '$&'];
  const mutate = (text) => {
    const pos = () => random(text.length + 1);
    switch (random(8)) {
      case 0: case 1: case 2: { const p = pos(); return text.slice(0, p) + tokens[random(tokens.length)] + text.slice(p); }
      case 3: { const a = pos(); const b = Math.min(text.length, a + 1 + random(16)); return text.slice(0, a) + text.slice(b); }
      case 4: { const a = pos(); const b = Math.min(text.length, a + 1 + random(32)); const p = pos(); return text.slice(0, p) + text.slice(a, b) + text.slice(p); }
      case 5: { const other = corpus[random(corpus.length)]; const p = pos(); return text.slice(0, p) + other.slice(random(other.length + 1)); }
      case 6: { const p = pos(); return text.slice(0, p) + String.fromCharCode(random(128)) + text.slice(p + 1); }
      default: { const p = pos(); return text.slice(0, p) + String.fromCharCode(random(0x3000)) + text.slice(p); }
    }
  };
  let runs = 0;
  let slowestMs = 0;
  let pumpedSlowestMs = 0;
  let pumpedSlowest = '';
  let pumpedFirstSlowestMs = 0;
  const started = performance.now();
  const deadline = config.seconds ? started + config.seconds * 1000 : Infinity;
  const pool = corpus.slice();
  // CPU time, not wall time: a machine busy with builds must not turn into findings.
  const timed = (input) => {
    const cpu0 = process.cpuUsage();
    const html = render(input);
    const cpu = process.cpuUsage(cpu0);
    return { html, ms: (cpu.user + cpu.system) / 1000 };
  };
  const check = (input, pumped) => {
    const length = Math.min(input.length, MAX_INPUT);
    for (let i = 0; i < length; i++) slot[i] = input.charCodeAt(i);
    Atomics.store(progress, 1, length);
    let html;
    let ms;
    let firstMs;
    try {
      ({ html, ms } = timed(input));
      firstMs = ms;
      // The clock is the process's, so it also counts V8's compiler and garbage collector
      // threads, busy for whichever input happens to run (a new path recompiled, the heap grown):
      // a slow time is taken again, twice at most, and the lowest kept. A cost the input brings
      // itself is there every time; what this file reports and fails on is that one.
      for (let again = 0; again < 2 && ms > RETIME_MS; again++) ms = Math.min(ms, timed(input).ms);
    } catch (error) {
      return `exception: ${error && error.stack || error}`;
    }
    Atomics.add(progress, 0, 1);
    if (pumped && ms > pumpedSlowestMs) pumpedSlowest = input.slice(0, 80);
    if (pumped) {
      pumpedSlowestMs = Math.max(pumpedSlowestMs, ms);
      pumpedFirstSlowestMs = Math.max(pumpedFirstSlowestMs, firstMs);
    } else {
      slowestMs = Math.max(slowestMs, ms);
    }
    if (ms > config.budgetMs) return `slow: ${ms.toFixed(1)} ms for ${input.length} characters (budget ${config.budgetMs} ms)`;
    return unsafe(html) || lostText(input, html) || (pumped ? null : tasksDisagree(input, html, render, toggleTask, random));
  };
  // Warm-up, untimed: the seeds rendered and checked, as they are and joined at the largest size,
  // so that compiling the renderer and this file's checks (hot only from the first pumped
  // output on) is over before the first pumped seeds are timed.
  const all = corpus.join('\n\n');
  for (const text of [...corpus, all.repeat(Math.ceil(100_000 / all.length)).slice(0, 100_000)]) {
    for (let round = 0; round < (text.length > 10_000 ? 5 : 100); round++) {
      const html = render(text);
      if (round < 3) unsafe(html) || lostText(text, html) || tasksDisagree(text, html, render, toggleTask, () => 0);
    }
  }
  // Every seed as it is and pumped (repeated) to the API's 100,000-character limit, then mutants,
  // every 64th also pumped: cost that grows faster than the input shows there.
  const queue = corpus.slice();
  while ((config.runs ? runs < config.runs : true) && performance.now() < deadline) {
    let input = queue.length ? queue.shift() : pool[random(pool.length)];
    if (!queue.length && runs >= corpus.length) {
      const rounds = 1 + random(4);
      for (let i = 0; i < rounds; i++) input = mutate(input);
      if (input.length > 4096) input = input.slice(0, 4096);
      if (random(16) === 0) pool[random(pool.length)] = input;
      if (pool.length < 256 && random(4) === 0) pool.push(input);
    }
    runs++;
    let finding = check(input, false);
    if (!finding && (runs <= corpus.length || runs % 64 === 0) && input.length > 0) {
      const pumped = input.repeat(Math.ceil(100_000 / input.length)).slice(0, 100_000);
      finding = check(pumped, true);
      if (finding) input = pumped;
    }
    if (finding) {
      parentPort.postMessage({ finding, input, runs, execPerSecond: 0, coverage: '-' });
      return;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const result = session ? (await session.post('Profiler.takePreciseCoverage')).result : [];
  const script = result.find((entry) => entry.url === moduleURL);
  parentPort.postMessage({
    runs,
    execPerSecond: Math.round(runs / seconds),
    coverage: script ? blockCoverage(script) : '-',
    slowestMs,
    pumpedSlowestMs,
    pumpedFirstSlowestMs,
    pumpedSlowest,
  });
}

/// Share of the renderer's code ranges (functions and blocks) the run executed.
function blockCoverage(script) {
  let blocks = 0;
  let covered = 0;
  for (const fn of script.functions) {
    for (const range of fn.ranges) {
      blocks++;
      if (range.count > 0) covered++;
    }
  }
  return `${covered}/${blocks}`;
}

const ALLOWED_TAGS = new Set(['p', 'br', 'strong', 'em', 'code', 'a', 'ul', 'ol', 'li', 'h3', 'h4', 'h5', 'blockquote', 'pre',
  'table', 'thead', 'tbody', 'tr', 'th', 'td', 'input']);
// The only attributes besides a link's: a task's checkbox, always disabled (the page enables it).
const TASK_BOX = /^<input type="checkbox" data-task="\d+"( checked)? disabled>$/;
const ENTITIES = ['&amp;', '&lt;', '&gt;', '&quot;', '&#39;'];
const LINK = /^<a href="(https?:\/\/[^"<>\s]*)" target="_blank" rel="noopener noreferrer nofollow">$/i;

const VOID_TAGS = new Set(['br', 'input']);

/// Why `html` is not safe, well-nested output, or null.
function unsafe(html) {
  if (html.includes('\u0000')) return 'a placeholder (NUL) leaked into the output';
  const open = [];
  for (let i = 0; i < html.length; i++) {
    const c = html[i];
    if (c === '<') {
      const end = html.indexOf('>', i);
      if (end === -1) return `an unclosed '<' at ${i}: ${JSON.stringify(html.slice(i, i + 80))}`;
      const tag = html.slice(i, end + 1);
      const name = /^<\/?([a-z][a-z0-9]*)/.exec(tag);
      if (!name || !ALLOWED_TAGS.has(name[1])) return `a tag the renderer does not write: ${JSON.stringify(tag.slice(0, 120))}`;
      if (tag.startsWith('<input')) {
        if (!TASK_BOX.test(tag)) return `an input other than a task's checkbox: ${JSON.stringify(tag.slice(0, 120))}`;
      } else if (tag.startsWith('<a ')) {
        const link = LINK.exec(tag);
        if (!link) return `a link with other attributes: ${JSON.stringify(tag.slice(0, 200))}`;
        const href = link[1].replace(/&amp;/g, '&');
        if (/&(?!amp;|lt;|gt;|quot;|#39;)/.test(link[1]) || !/^https?:\/\//i.test(href)) return `a suspicious href: ${JSON.stringify(link[1])}`;
      } else if (!/^<\/?[a-z][a-z0-9]*>$/.test(tag)) {
        return `attributes on a tag: ${JSON.stringify(tag.slice(0, 120))}`;
      }
      if (tag[1] === '/') {
        if (open.pop() !== name[1]) return `</${name[1]}> closes nothing open at ${i}: ${JSON.stringify(html.slice(Math.max(0, i - 80), i + 20))}`;
      } else if (!VOID_TAGS.has(name[1])) {
        open.push(name[1]);
      }
      i = end;
    } else if (c === '>' || c === '"' || c === "'") {
      return `a raw ${c} outside a tag at ${i}: ${JSON.stringify(html.slice(Math.max(0, i - 40), i + 40))}`;
    } else if (c === '&' && !ENTITIES.some((e) => html.startsWith(e, i))) {
      return `a '&' that starts no entity at ${i}: ${JSON.stringify(html.slice(i, i + 20))}`;
    }
  }
  return open.length ? `<${open.pop()}> never closed` : null;
}

/// Why text of `input` is missing from `html`, or null: letters, counted, must all survive.
function lostText(input, html) {
  const visible = html
    .replace(/<a href="([^"]*)"[^>]*>/g, ' $1 ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;|&gt;|&quot;|&#39;|&amp;/g, ' ');
  const count = (text) => {
    const counts = new Map();
    for (const c of text.replace(/\u0000/g, '')) if (/\p{L}/u.test(c)) counts.set(c, (counts.get(c) || 0) + 1);
    return counts;
  };
  const have = count(visible);
  // What the renderer drops on purpose: a task's x ("- [x] "), a fence's language ("```js"). The
  // patterns stay within a line ([^\S\n], not \s): \s* from every line start over 100,000 blank
  // lines was quadratic (a run of "\r" hung the fuzzer in its own check).
  const kept = input.replace(/\u0000/g, '').replace(/\r\n?/g, '\n').replace(/^([^\S\n]*[-*+][^\S\n]+\[)[xX](\][^\S\n])/gm, '$1 $2').replace(/^([^\S\n]*```+)[^`\n]*$/gm, '$1');
  for (const [c, n] of count(kept)) {
    if ((have.get(c) || 0) < n) return `text lost: the input has ${n} × '${c}', the output ${have.get(c) || 0}`;
  }
  return null;
}

/// Why ticking a task of `input` would change another box than the one ticked, or null.
function tasksDisagree(input, html, render, toggleTask, random) {
  const boxes = (h) => [...h.matchAll(/<input type="checkbox" data-task="(\d+)"( checked)?/g)].map((m) => [Number(m[1]), !!m[2]]);
  const before = boxes(html);
  if (!before.length) return null;
  const k = random(before.length);
  if (before[k][0] !== k) return `task boxes numbered out of order: ${JSON.stringify(before.map((b) => b[0]).slice(0, 20))}`;
  const after = boxes(render(toggleTask(input, k)));
  const expected = before.map(([n, checked]) => [n, n === k ? !checked : checked]);
  if (JSON.stringify(after) !== JSON.stringify(expected)) {
    return `ticking task ${k} gives boxes ${JSON.stringify(after).slice(0, 200)}, not ${JSON.stringify(expected).slice(0, 200)}`;
  }
  return null;
}

if (isMainThread) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const i = args.indexOf(name);
    return i === -1 ? fallback : args[i + 1];
  };
  const config = {
    runs: Number(option('--runs', '0')),
    seconds: Number(option('--seconds', '0')),
    seed: Number(option('--seed', '1')),
    budgetMs: Number(process.env.TACK_FUZZ_SLOW_MS || '100'),
    artifacts: option('--artifacts', join(root, '.build', 'fuzz', 'artifacts')),
  };
  if (!config.runs && !config.seconds) config.runs = 20_000;
  // The worker writes each input here before rendering it, so a hang can be reported.
  const shared = new SharedArrayBuffer(8 + MAX_INPUT * 2);
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { ...config, shared } });
  const progress = new Int32Array(shared, 0, 2);
  let last = -1;
  let stalled = 0;
  const watchdog = setInterval(() => {
    const now = Atomics.load(progress, 0);
    stalled = now === last ? stalled + 1 : 0;
    last = now;
    if (stalled >= 20) { // ten seconds without finishing one input
      clearInterval(watchdog);
      const length = Atomics.load(progress, 1);
      const input = String.fromCharCode(...new Uint16Array(shared, 8, length).slice(0, Math.min(length, 60_000)));
      report(config, 'hang: one input ran for over 10 s', input);
      worker.terminate().then(() => process.exit(1));
    }
  }, 500);
  worker.on('message', (message) => {
    clearInterval(watchdog);
    if (message.finding) {
      report(config, message.finding, message.input);
      console.log(`stat: runs=${message.runs} exec/s=${message.execPerSecond} cov=${message.coverage} findings=1`);
      process.exit(1);
    }
    console.log(`stat: runs=${message.runs} exec/s=${message.execPerSecond} cov=${message.coverage} findings=0 ` +
      `slowest_ms=${message.slowestMs.toFixed(1)} pumped_slowest_ms=${message.pumpedSlowestMs.toFixed(1)} ` +
      `pumped_slowest_first_ms=${message.pumpedFirstSlowestMs.toFixed(1)}`);
    // (Printed here, not in the worker: its output may be lost when the process exits.)
    if (process.env.TACK_FUZZ_SHOW_SLOWEST) console.error(`slowest pumped input starts ${JSON.stringify(message.pumpedSlowest)}`);
    process.exit(0);
  });
  worker.on('error', (error) => {
    clearInterval(watchdog);
    console.error(error);
    process.exit(1);
  });
} else {
  await fuzz(workerData);
}
