/*
 * Internals of frontend/data shared by its files (not a public header):
 *   format.c    format names, a JSONL line → rendered text parts (prompt / completion)
 *   chat.c      chat templates: recognition and rendering of "messages"
 *   encode.c    rendered parts → ids, labels and weights (prompt/completion boundaries)
 *   load.c      vkft_dataset_open: files, lines, errors with file:line:col, statistics
 *   order.c     example order: file order / per-epoch permutations, the mix sampler, cursor
 *   batch.c     rows: truncation, padding, packing, the label shift; eval iteration
 *
 * A source's examples are stored back to back: example j of source s has the tokens
 * ids[off[j] .. off[j+1]) with their unshifted labels (-100 = no loss) and weights.
 */
#ifndef VKFT_DATA_INTERNAL_H
#define VKFT_DATA_INTERNAL_H

#include "data/data.h"
#include "util/rng.h"

/* ---- rendered text: an example as one string cut into prompt and completion parts ---- */
typedef struct data_render {
    char *text;
    size_t len, cap;
    size_t *ends;               /* part k covers [ends[k-1], ends[k]) (ends[-1] = 0) */
    bool *completion;           /* part k is trained (weight 1) or prompt */
    int n, cap_parts;
    bool failed;                /* an allocation failed; the render is unusable */
} data_render;

void data_render_reset(data_render *r);
void data_render_free(data_render *r);
/* Appends s[0..n) to the text, extending the last part when it has the same kind. */
void data_render_add(data_render *r, const char *s, size_t n, bool completion);
void data_render_adds(data_render *r, const char *s, bool completion);

/* Where a message of a line sits, for errors: "path:line:col: ". */
typedef struct data_where {
    const char *path;
    int64_t line;
} data_where;

/* "path:line:col: message" with VKFT_ERR_INVALID_ARG. */
vkft_status data_err_at(vkft_err *err, data_where w, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The string member key of obj into *out; a missing key fails unless optional (then *out is
 * NULL, as for null), a non-string fails. what names the format in messages. */
vkft_status data_get_str(const vkft_json *obj, const char *key, bool optional, data_where w,
                         const char *what, const vkft_json **out, vkft_err *err);

/* Guesses the format from a parsed line (VKFT_DATA_AUTO when no known key is found). */
vkft_data_format data_format_detect(const vkft_json *obj);
/* Renders a text / completion / alpaca line into r. tmpl is used by VKFT_DATA_CHAT. */
vkft_status data_format_render(const vkft_json *obj, vkft_data_format f, vkft_chat_template tmpl,
                               const vkft_tokenizer *tok, data_render *r, data_where w,
                               vkft_err *err);

/* Chooses the template for a tokenizer (AUTO: by the content of its chat_template). */
vkft_chat_template data_chat_resolve(vkft_chat_template want, const vkft_tokenizer *tok);
/* Renders {"messages": [...]} (or ShareGPT "conversations" with from/value): assistant turns
 * are completion parts, everything else prompt. The first BOS is left to the encoder's
 * add_special; later BOS/EOS tokens are written as their token text. */
vkft_status data_chat_render(const vkft_json *obj, vkft_chat_template tmpl,
                             const vkft_tokenizer *tok, data_render *r, data_where w,
                             vkft_err *err);

/* ---- one source's tokenised examples ---- */
typedef struct data_store {
    int32_t *ids, *labels;
    float *weights;
    int64_t n_tokens, cap_tokens;
    int64_t *off;               /* n_examples + 1 offsets */
    int64_t n_examples, cap_examples;
} data_store;

/* Appends one example (n tokens); on failure the store is unchanged. */
vkft_status data_store_add(data_store *s, const int32_t *ids, const int32_t *labels,
                           const float *weights, int64_t n, vkft_err *err);
void data_store_free(data_store *s);

/* Encodes r and appends the example to s: boundaries between parts follow TRL's rule
 * (part k starts at token len(encode(text[0..ends[k-1]), add_special))), completion tokens
 * weigh 1, prompt tokens prompt_w (label -100 when 0); EOS is appended unless the ids already
 * end with it. scratch holds reusable id lists. */
typedef struct data_encoder {
    const vkft_tokenizer *tok;
    int32_t eos_id;
    vkft_ids full, prefix;
    int32_t *labels;
    float *weights;
    size_t cap;
} data_encoder;
vkft_status data_encode(data_encoder *e, const data_render *r, float prompt_w, data_store *s,
                        vkft_err *err);
void data_encoder_free(data_encoder *e);

/* ---- the dataset ---- */
typedef struct data_source {
    char *path, *task;
    vkft_data_format format;
    float weight, prompt_w;
    data_store store;
    vkft_data_stats stats;
    double prob;                /* normalised sampling probability */
    /* training cursor of this source */
    int64_t epoch, pos;
    uint32_t *perm;             /* this epoch's permutation (shuffle), else NULL */
} data_source;

/* A position in a stream of examples: the example being consumed and how far. */
typedef struct data_carry {
    bool active;                /* an example is partly consumed (packing) */
    int src;
    int64_t ex, off;
} data_carry;

struct vkft_dataset {
    vkft_data_options opt;
    int32_t pad_id, eos_id, vocab;
    int n;
    data_source *src;
    /* training cursor (with each source's epoch/pos/perm) */
    vkft_rng sampler;           /* picks the source of each example (n > 1) */
    double *cum;                /* n cumulative probabilities, cum[n-1] == 1 */
    data_carry carry;
    /* eval cursor */
    int eval_src;
    int64_t eval_ex;
    data_carry eval_carry;
};

/* order.c */
/* Probabilities, permutation buffers, and the cursor at the start. */
vkft_status data_order_init(vkft_dataset *d, vkft_err *err);
/* The next training example (source, example index); advances the training cursor. */
void data_order_next(vkft_dataset *d, int *src, int64_t *ex);
uint64_t data_hash_bytes(const void *p, size_t n);

#endif
