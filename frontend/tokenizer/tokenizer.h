/*
 * Tokenizers: Hugging Face tokenizer.json (BPE models) - loading, encoding, decoding - and a
 * byte-level BPE trainer that writes a GPT-2-style tokenizer.json.
 *
 * Supported (see docs/tokenizers.md for the exact list of components):
 *   - byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM): ByteLevel / Split pre-tokenizers with
 *     their regex, the byte-to-unicode map, merges by rank, ignore_merges;
 *   - SentencePiece-style BPE (Llama 2, TinyLlama, Mistral): "▁" for spaces (legacy normalizer
 *     Prepend+Replace, or Metaspace with prepend_scheme first/always/never), byte fallback
 *     <0xNN>, merges;
 *   - added tokens (split out of the text before the model runs; lstrip, rstrip, single_word),
 *     post_processor TemplateProcessing / ByteLevel / none, and the decoders that undo them.
 *
 * Invariants: a loaded tokenizer is read-only apart from an internal, lock-protected word
 * cache, so encode/decode/lookups may run on one tokenizer from several threads at once.
 * Ids are int32 in [0, vocab_size).
 *
 *     vkft_tokenizer *tok;  vkft_err err;  vkft_ids ids = {0};
 *     if (vkft_tokenizer_load("models/tinyllama", &tok, &err)) { puts(err.msg); ... }
 *     if (vkft_tokenizer_encode(tok, "Hello world", 11, true, &ids, &err)) ...
 *     // ids.v[0..ids.n): with add_special, Llama's <s> first
 *     char *text;  size_t len;
 *     vkft_tokenizer_decode(tok, ids.v, ids.n, true, &text, &len, &err);  // "Hello world"
 *     free(text);  vkft_ids_free(&ids);  vkft_tokenizer_free(tok);
 */
#ifndef VKFT_TOKENIZER_H
#define VKFT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* ---- id lists ---- */

/* A growable list of token ids. Zero-initialise ({0}) before first use. */
typedef struct vkft_ids {
    int32_t *v;
    size_t n, cap;
} vkft_ids;

/* Appends one id (grows v). On VKFT_ERR_NO_MEMORY ids is unchanged. */
vkft_status vkft_ids_push(vkft_ids *ids, int32_t id, vkft_err *err);
/* Appends n ids. On failure ids is unchanged. */
vkft_status vkft_ids_append(vkft_ids *ids, const int32_t *v, size_t n, vkft_err *err);
/* Frees v and zeroes the struct (safe on a zeroed struct). */
void vkft_ids_free(vkft_ids *ids);

/* ---- loading ---- */

typedef struct vkft_tokenizer vkft_tokenizer;

/*
 * Loads a tokenizer from path: a model folder (tokenizer.json, plus tokenizer_config.json and
 * config.json when present, for bos/eos/pad and the chat template) or a tokenizer.json file.
 * Fails with VKFT_ERR_IO (file missing or unreadable) or VKFT_ERR_INVALID_ARG (bad JSON, an
 * unsupported model or component: the message names file:line:col and the key); *out is NULL
 * on failure.
 */
vkft_status vkft_tokenizer_load(const char *path, vkft_tokenizer **out, vkft_err *err);
/* The same from tokenizer.json text in memory (no companion files); name labels messages. */
vkft_status vkft_tokenizer_load_json(const char *json, size_t len, const char *name,
                                     vkft_tokenizer **out, vkft_err *err);
void vkft_tokenizer_free(vkft_tokenizer *t);

/* ---- encoding and decoding ---- */

/*
 * Encodes text[0..len) (UTF-8; invalid bytes are read as U+FFFD like HF's lossy reading)
 * and appends the ids to *out_append. Added tokens found in the text are always split out.
 * add_special: apply the post-processor (e.g. Llama's <s> in front), as HF's
 * encode(add_special_tokens=True). A char with no token, no unk and no byte fallback is
 * dropped, as in HF. Thread-safe (calls on one tokenizer may run at once). On failure
 * (VKFT_ERR_NO_MEMORY; VKFT_ERR_LIMIT when a regex hits PCRE2's resource limits;
 * VKFT_ERR_INVALID_ARG for NULL arguments) out_append keeps its old length.
 */
vkft_status vkft_tokenizer_encode(const vkft_tokenizer *t, const char *text, size_t len,
                                  bool add_special, vkft_ids *out_append, vkft_err *err);

/*
 * Decodes ids back to text: *out is malloc'd and NUL-terminated (caller frees), *out_len its
 * length (out_len may be NULL). skip_special drops special added tokens (HF's
 * skip_special_tokens). Incomplete UTF-8 left by byte tokens becomes U+FFFD, as in HF.
 * Fails with VKFT_ERR_INVALID_ARG on an id outside [0, vocab_size) (naming it) or
 * VKFT_ERR_NO_MEMORY; *out is NULL then.
 */
vkft_status vkft_tokenizer_decode(const vkft_tokenizer *t, const int32_t *ids, size_t n,
                                  bool skip_special, char **out, size_t *out_len,
                                  vkft_err *err);

/* ---- vocabulary ---- */

/* One more than the largest id (model vocab and added tokens). */
int32_t vkft_tokenizer_vocab_size(const vkft_tokenizer *t);
/* The id of a token string (as it appears in the vocab, e.g. "Ġthe" or "▁the", or an added
 * token's content), or -1. */
int32_t vkft_tokenizer_token_to_id(const vkft_tokenizer *t, const char *token, size_t len);
/* The token string of an id (NUL-terminated, owned by t; *len may be NULL), or NULL for an id
 * with no token (out of range or a hole in the vocab). */
const char *vkft_tokenizer_id_to_token(const vkft_tokenizer *t, int32_t id, size_t *len);
/* Whether id is an added token marked special (skipped by decode with skip_special). */
bool vkft_tokenizer_is_special(const vkft_tokenizer *t, int32_t id);

/* ---- special ids and the chat template ---- */

/* BOS / EOS / PAD ids or -1. Taken from tokenizer_config.json (bos_token, eos_token,
 * pad_token; an explicit null means none), then config.json (bos_token_id, eos_token_id: first
 * of a list, pad_token_id), then, without either file, well-known special tokens (the
 * post-processor's first token, <s>, <|begin_of_text|>; </s>, <|end_of_text|>,
 * <|endoftext|>, <|im_end|>). */
int32_t vkft_tokenizer_bos_id(const vkft_tokenizer *t);
int32_t vkft_tokenizer_eos_id(const vkft_tokenizer *t);
int32_t vkft_tokenizer_pad_id(const vkft_tokenizer *t);
/* Every id that ends generation: eos_id first, then config.json's eos_token_id list (no
 * duplicates). *n is 0 and the result NULL when there is none. Owned by t. */
const int32_t *vkft_tokenizer_eos_ids(const vkft_tokenizer *t, size_t *n);
/* tokenizer_config.json's chat_template (the "default" entry when it is a list of named
 * templates; chat_template.jinja in the folder if the config has none), or NULL. */
const char *vkft_tokenizer_chat_template(const vkft_tokenizer *t);

/* ---- training ---- */

/*
 * Trains a byte-level BPE tokenizer on corpus[0..len) and returns GPT-2-style tokenizer.json
 * text in *json_out (malloc'd, NUL-terminated; caller frees) and its length in *json_len:
 * ByteLevel pre-tokenizer (GPT-2's regex, add_prefix_space false), the 256 byte tokens (ids
 * 0..255 in byte order), learned merges until vocab_size - n_special tokens exist (fewer if the
 * corpus runs out of pairs), the n_special special_tokens as added tokens at the end, ByteLevel
 * post-processor and decoder. Deterministic: the most frequent pair wins, ties go to the pair
 * whose (left, right) token bytes sort first. vkft_tokenizer_load_json reads the result back,
 * and so does HF tokenizers. Fails with VKFT_ERR_INVALID_ARG when vocab_size < 256 + n_special
 * or a special token is empty or repeated, VKFT_ERR_NO_MEMORY otherwise.
 */
vkft_status vkft_bpe_train_bytelevel(const char *corpus, size_t len, int vocab_size,
                                     const char *const *special_tokens, int n_special,
                                     char **json_out, size_t *json_len, vkft_err *err);

#endif
