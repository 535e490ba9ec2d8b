/*
 * Helpers for the frontend/data tests: a scratch folder, files written into it, a tiny
 * byte-level tokenizer made on the spot (no merges, so every byte is its own id 0..255, plus
 * the added tokens below) and an oracle encoder for it that needs no tokenizer code: the
 * expected ids of a string are its bytes, with the added tokens' texts replaced by their ids.
 */
#ifndef VKFT_DATA_TEST_UTIL_H
#define VKFT_DATA_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data/data.h"
#include "test_util.h"

/* Added tokens of the test tokenizer, ids 256.. in this order. */
enum {
    TT_ENDOFTEXT = 256,   /* <|endoftext|> */
    TT_BOS,               /* <s> */
    TT_EOS,               /* </s> */
    TT_IM_START,          /* <|im_start|> */
    TT_IM_END,            /* <|im_end|> */
    TT_HEADER_START,      /* <|start_header_id|> */
    TT_HEADER_END,        /* <|end_header_id|> */
    TT_EOT,               /* <|eot_id|> */
    TT_BEGIN,             /* <|begin_of_text|> */
    TT_VOCAB,             /* vocabulary size */
};

/* Fails the test (test_failures++) with the message when st != VKFT_OK. */
#define CHECK_ST(st, err)                                                                      \
    do {                                                                                       \
        vkft_status st__ = (st);                                                               \
        if (st__ != VKFT_OK) {                                                                 \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #st, (int)st__, \
                    (err).msg);                                                                \
            test_failures++;                                                                   \
        }                                                                                      \
    } while (0)

/* A fresh scratch folder (removed with its files by dt_cleanup). Exits 1 on failure. */
const char *dt_dir(void);
void dt_cleanup(void);
/* dt_dir()/name, written with text; returns the path (static storage, 8 slots rotating). */
const char *dt_write(const char *name, const char *text);
/* The committed fixture tests/fixtures/data/name (VKFT_FIXTURES). */
const char *dt_fixture(const char *name);

/* Makes a tokenizer folder and loads it: bos_template adds <s> in front via a
 * TemplateProcessing post-processor (like Llama); bos/eos/chat_template go into
 * tokenizer_config.json (NULL: left out). Exits 1 when it cannot be made. */
vkft_tokenizer *dt_tokenizer(bool bos_template, const char *bos, const char *eos,
                             const char *chat_template);

/* Oracle: appends the expected ids of s (bytes; added-token texts → ids) to ids[*n]. */
void dt_expect(const char *s, int32_t *ids, int64_t *n, int64_t cap);
/* Appends the ids of s with weight w to (ids, w)[*n]: for building expected examples. */
void dt_expect_w(const char *s, float wt, int32_t *ids, float *w, int64_t *n, int64_t cap);

/* Compares example j of source i with the expected ids and weights (labels derived: id where
 * w > 0, else -100); prints the first difference. Returns true when equal. */
bool dt_example_is(const vkft_dataset *d, int i, int64_t j, const int32_t *ids, const float *w,
                   int64_t n);

/* Opens one source with the options (defaults with seq_len when o is NULL). */
vkft_status dt_open1(const char *path, vkft_data_format f, const vkft_data_options *o,
                     const vkft_tokenizer *tok, vkft_dataset **out, vkft_err *err);

/* Batch buffers for rows × T. */
typedef struct dt_batch {
    vkft_batch b;
    int64_t rows, T;
} dt_batch;
void dt_batch_alloc(dt_batch *b, int64_t rows, int64_t T, bool optional);
void dt_batch_free(dt_batch *b);

#endif
