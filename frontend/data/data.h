/*
 * Datasets: JSONL files → tokenised examples → training batches (tokens, shifted labels,
 * per-position loss weights), with prompt masking, truncation/padding or packing, file-order
 * or seeded shuffled order, weighted multi-dataset mixes and a resumable cursor.
 * docs/data.md has the formats, templates and the exact order rules.
 *
 * Contract of a batch row (seq_len T), which matches Hugging Face's causal-LM shift:
 *   tokens[t]  the input id at position t;
 *   labels[t]  the target of position t: the label of token t+1 of the same row, -100 when
 *              that token is ignored (masked prompt, padding) and at t = T-1;
 *   weights[t] the loss weight of position t (0 exactly where labels[t] == -100, else the
 *              target token's weight: 1 for completions, prompt_loss_weight for prompts).
 * With the first_target option (prompt tuning: a model whose virtual tokens precede the row
 * also predicts the row's first token, as PEFT's PROMPT_TUNING trains it) the rows are not
 * shifted: labels[t] / weights[t] are token t's own label and weight, i.e. the target of the
 * position before t (t = 0: the last virtual token); token_task likewise. Every count below
 * (target_tokens, weight_sum) covers these entries, so a row has up to T targets, not T-1.
 * Without packing a row is one example: truncated to T tokens (counted in the stats) or
 * right-padded with pad_id (labels -100, weights 0, key_mask 0). With packing a row is the
 * next T tokens of the stream of examples (each ending in its EOS); an example may span rows,
 * and attention crosses example boundaries inside a row (the attention op has only a key
 * mask, so no segment mask is applied; segment ids are emitted for a future one).
 *
 * Invariants: a dataset is read-only after open apart from its two cursors (training, eval);
 * all tokenisation happens in vkft_dataset_open (once per run, in memory). Not thread-safe.
 *
 *     vkft_data_source src = {.path = "train.jsonl", .format = VKFT_DATA_ALPACA,
 *                             .prompt_loss_weight = -1};
 *     vkft_data_options o;  vkft_data_options_default(&o);  o.seq_len = 512;
 *     vkft_dataset *ds;  vkft_err err;
 *     if (vkft_dataset_open(&src, 1, &o, tok, &ds, &err)) { puts(err.msg); ... }
 *     vkft_batch b = {.tokens = tok_buf, .labels = lab_buf, .weights = w_buf,
 *                     .task = task_buf};                // arrays of 8*512 (task: 8)
 *     for (step ...) vkft_dataset_next_batch(ds, 8, &b, &err);
 *     vkft_dataset_free(ds);
 */
#ifndef VKFT_DATA_H
#define VKFT_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/json.h"

#define VKFT_IGNORE_INDEX (-100)   /* label of a position without a target (HF ignore_index) */
#define VKFT_DATA_MAX_SOURCES 64

/* The shape of one JSONL line. */
typedef enum vkft_data_format {
    VKFT_DATA_AUTO = 0,    /* decided per file from the first line's keys (see docs/data.md) */
    VKFT_DATA_TOKENS,      /* {"input_ids": [...], "labels": [...]} labels optional, -100 ignored */
    VKFT_DATA_TEXT,        /* {"text": "..."}: every token trained */
    VKFT_DATA_COMPLETION,  /* {"prompt": "...", "completion": "..."} */
    VKFT_DATA_ALPACA,      /* {"instruction", "input" (optional), "output"}, Stanford template */
    VKFT_DATA_CHAT,        /* {"messages": [{"role", "content"}, ...]}; assistant turns trained */
    VKFT_DATA_FORMAT_COUNT,
} vkft_data_format;

/* Chat template used for VKFT_DATA_CHAT. AUTO recognises the tokenizer's template by content
 * (Llama 3 header ids, ChatML, Llama 2 [INST], Zephyr) and falls back to ChatML. */
typedef enum vkft_chat_template {
    VKFT_CHAT_AUTO = 0,
    VKFT_CHAT_CHATML,
    VKFT_CHAT_LLAMA2,
    VKFT_CHAT_LLAMA3,
    VKFT_CHAT_ZEPHYR,
    VKFT_CHAT_TEMPLATE_COUNT,
} vkft_chat_template;

/* Names used in job files: "auto", "tokens", "text", "completion", "alpaca", "chat" and
 * "auto", "chatml", "llama2", "llama3", "zephyr". parse returns false on an unknown name. */
const char *vkft_data_format_name(vkft_data_format f);
bool vkft_data_format_parse(const char *name, vkft_data_format *out);
const char *vkft_chat_template_name(vkft_chat_template t);
bool vkft_chat_template_parse(const char *name, vkft_chat_template *out);

/* One JSONL file of a mix. */
typedef struct vkft_data_source {
    const char *path;
    vkft_data_format format;
    float weight;               /* sampling weight (> 0), or 0 = not given (see options) */
    const char *task;           /* task name for per-task metrics; NULL = file name */
    float prompt_loss_weight;   /* < 0: use the options' value */
} vkft_data_source;

typedef struct vkft_data_options {
    int64_t seq_len;            /* T, >= 2 */
    bool shuffle;               /* false: file order, wrapping; true: a permutation per epoch */
    bool packing;               /* concatenate examples into rows of T tokens */
    float prompt_loss_weight;   /* weight of prompt tokens (0 = masked); default 0 */
    bool first_target;          /* rows unshifted: token 0 is a target too (prompt tuning, see
                                 * the batch contract above); default false */
    uint64_t seed;              /* shuffle permutations and the mix sampler */
    /* Mix probabilities: p_i ∝ weight_i^(1/T) when every source gives a weight, else
     * p_i ∝ examples_i^(1/T) (no weight given anywhere); mixing given and missing weights is
     * an error. 1 = proportional; larger flattens the mix toward uniform. Default 1. */
    float mix_temperature;
    int32_t pad_id;             /* padding id; -1 = tokenizer's EOS, else 0 */
    int32_t vocab_size;         /* ids must be < this; 0 = the tokenizer's vocab size */
    vkft_chat_template chat_template;
} vkft_data_options;

void vkft_data_options_default(vkft_data_options *o);

typedef struct vkft_dataset vkft_dataset;

/*
 * Reads, parses and tokenises every source (n in 1..VKFT_DATA_MAX_SOURCES). tok may be NULL
 * only when every source is VKFT_DATA_TOKENS (then vocab_size must be set, pad_id -1 means 0).
 * BOS comes from the tokenizer's post-processor (the first segment of an example is encoded
 * with add_special); EOS is appended to every text example unless it already ends with it
 * (tokens examples are used as given). Fails, with *out NULL, on:
 *   VKFT_ERR_IO            a file that cannot be read ("path: cannot open: ...");
 *   VKFT_ERR_INVALID_ARG   a line that is not JSON or lacks/mistypes the format's keys, a token
 *                          id outside [0, vocab) ("path:line:col: ..."), an empty dataset
 *                          ("path: no examples"), bad options or weights;
 *   VKFT_ERR_NO_MEMORY.
 */
vkft_status vkft_dataset_open(const vkft_data_source *src, int n, const vkft_data_options *o,
                              const vkft_tokenizer *tok, vkft_dataset **out, vkft_err *err);
void vkft_dataset_free(vkft_dataset *d);

/* One batch. The caller owns every array and sets the pointers before a call; optional
 * arrays may be NULL. rows × seq_len positions, row-major. */
typedef struct vkft_batch {
    int32_t *tokens;            /* [rows*T] input ids */
    int32_t *labels;            /* [rows*T] shifted targets (unshifted with first_target),
                                 * VKFT_IGNORE_INDEX where none */
    float *weights;             /* [rows*T] loss weights, 0 where labels are ignored */
    int32_t *task;              /* [rows] source index of the row's first example; -1 = empty */
    float *key_mask;            /* (opt) [rows*T] 1 real token, 0 padding (attention key_mask) */
    int32_t *segment;           /* (opt) [rows*T] example number within the row from 0, -1 pad */
    int32_t *token_task;        /* (opt) [rows*T] source index of position t's target, -1 none
                                 * (per-task loss in packed rows, which mix sources) */
    /* Filled by the call: */
    int64_t rows;               /* rows written (eval: the real ones; the rest are padding) */
    int64_t examples;           /* examples that started in this batch */
    int64_t real_tokens;        /* non-padding positions */
    int64_t target_tokens;      /* positions with a label (exactly those with weight > 0) */
    double weight_sum;          /* sum of weights (the usual loss normaliser) */
} vkft_batch;

/*
 * Training order. Fills `batch` rows: each next example comes from the source the seeded
 * sampler picks (always source 0 when there is one), and within a source from the next
 * position of its order (file order, or this epoch's permutation), wrapping into the next
 * epoch at the end. The cursor moves on only on success; on failure the batch content is
 * undefined and the cursor unchanged. Fails with VKFT_ERR_INVALID_ARG on batch < 1 or a
 * missing required array.
 */
vkft_status vkft_dataset_next_batch(vkft_dataset *d, int64_t batch, vkft_batch *out,
                                    vkft_err *err);

/*
 * Evaluation order: every example of every source once, sources one after another, each in
 * file order, packed or not as the options say. eval_reset starts over (open starts at the
 * beginning). eval_next fills a batch of `batch` rows: out->rows real rows, the rest padding
 * (tokens pad_id, labels -100, weights 0, task -1); *done is true (and out->rows 0) once
 * everything has been returned. The training cursor is untouched.
 */
void vkft_dataset_eval_reset(vkft_dataset *d);
vkft_status vkft_dataset_eval_next(vkft_dataset *d, int64_t batch, vkft_batch *out, bool *done,
                                   vkft_err *err);

/* ---- cursor (resume) ----
 * The training cursor: per source the epoch and position, the sampler's RNG state, the
 * packing carry-over, and each source's content hash (a restore onto changed data fails).
 * write appends one JSON object value to w (inside an object: call vkft_json_key first);
 * read restores from such a value, leaving the cursor unchanged on failure
 * (VKFT_ERR_INVALID_ARG naming the key, or a mismatch of data, options or seed). */
void vkft_dataset_cursor_write(const vkft_dataset *d, vkft_json_writer *w);
vkft_status vkft_dataset_cursor_read(vkft_dataset *d, const vkft_json *v, vkft_err *err);
/* Rewinds the training cursor to the start (epoch 0, seeded RNG). */
void vkft_dataset_rewind(vkft_dataset *d);

/* ---- sizes and statistics ---- */

typedef struct vkft_data_stats {
    int64_t examples;           /* examples loaded */
    int64_t tokens;             /* tokens after tokenisation (BOS/EOS included, untruncated) */
    int64_t target_tokens;      /* tokens with a loss weight > 0 (before the shift) */
    int64_t truncated;          /* examples longer than seq_len (cut; 0 with packing) */
    int64_t longest;            /* tokens in the longest example */
    uint64_t content_hash;      /* FNV-1a 64 of the file's bytes */
    double probability;         /* sampling probability in the mix (1 for a single source) */
    int64_t epoch;              /* training cursor: completed passes over this source */
    int64_t position;           /* training cursor: examples taken in the current epoch */
} vkft_data_stats;

int vkft_dataset_count(const vkft_dataset *d);                  /* number of sources */
/* Task name of source i (the source's task, else its path's file name). */
const char *vkft_dataset_task(const vkft_dataset *d, int i);
/* Statistics of source i, or the totals with i == -1 (probability 1, hash of the hashes,
 * longest of all, epoch and position 0). */
void vkft_dataset_stats(const vkft_dataset *d, int i, vkft_data_stats *out);
/* Tokens and per-token weights of example j of source i, unshifted, as stored (for tests and
 * `vkft check`): pointers owned by d, *n tokens; false when out of range. */
bool vkft_dataset_example(const vkft_dataset *d, int i, int64_t j, const int32_t **ids,
                          const int32_t **labels, const float **weights, int64_t *n);

#endif
