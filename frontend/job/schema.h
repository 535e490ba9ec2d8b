/*
 * The job schema: one table row per key path. The loader (job.c) validates and fills a
 * vkft_job from it, the printer (print.c) writes a job back from it, and docs/jobs.md is
 * generated from it (schema_doc.c), so a key exists in exactly one place.
 *
 * Paths: "train.lr"; the keys of an item of a list of mappings read "data.train[].path".
 * A row whose parent is another row's path comes after that row (sections first), and rows of
 * one parent keep the order the printer and the docs use.
 */
#ifndef VKFT_JOB_SCHEMA_H
#define VKFT_JOB_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "job/job.h"

typedef enum job_type {
    JOB_T_SECTION,   /* a mapping of further keys */
    JOB_T_INT,       /* int64_t */
    JOB_T_UINT,      /* uint64_t (>= 0) */
    JOB_T_FLOAT,     /* double (finite) */
    JOB_T_BOOL,      /* bool */
    JOB_T_STRING,    /* char * */
    JOB_T_PATH,      /* char *, resolved (see job.h) */
    JOB_T_DEVICE,    /* char *: auto | cpu | vulkan | vulkan:N */
    JOB_T_ENUM,      /* an enum (int-sized), index into choices */
    JOB_T_STRINGS,   /* vkft_job_strings: a list of names, or one name */
    JOB_T_FLOATS,    /* double[count] */
    JOB_T_DATASETS,  /* vkft_job_datasets: a list of mappings, or one mapping */
    JOB_T_REJECTED,  /* a key users may try that vkft does not support; doc says why */
} job_type;

/* Range flags of numeric rows. */
enum { JOB_LO = 1, JOB_LO_OPEN = 2, JOB_HI = 4, JOB_HI_OPEN = 8 };

/* Which struct a row's offset points into. */
typedef enum job_base { JOB_BASE_NONE, JOB_BASE_JOB, JOB_BASE_DATASET } job_base;

typedef struct job_key {
    const char *path;
    job_type type;
    job_base base;
    size_t offset;          /* of the field in vkft_job or vkft_job_dataset */
    const char *choices;    /* ENUM: "a|b|c" in enum order */
    const char *def;        /* default, as YAML text; NULL: none (required or left unset) */
    bool required;
    bool zero_unset;        /* no default: 0 means "not set" (printed as null) */
    unsigned range;         /* JOB_LO... flags */
    double lo, hi;
    int count;              /* FLOATS: exact number of items */
    unsigned kinds;         /* method kinds it belongs to (bit 1 << kind); 0: any */
    const char *doc;        /* one line for docs/jobs.md */
} job_key;

extern const job_key job_keys[];
extern const int job_n_keys;

#define JOB_KIND_BIT(k) (1u << (k))

/* The row for path that applies to method kind (kind < 0: any row with that path), or NULL. */
const job_key *job_key_find(const char *path, int kind);
/* The parent part of a row's path ("train.schedule" for "train.schedule.kind", "" for
 * "model"), written into buf. */
void job_key_parent(const char *path, char *buf, size_t size);
/* The last component ("kind"). */
const char *job_key_leaf(const char *path);
/* Does the row apply to method kind? */
bool job_key_applies(const job_key *k, int kind);

/* Index of name in "a|b|c" choices, or -1. choice_at returns the i-th one into buf. */
int job_choice_index(const char *choices, const char *name);
const char *job_choice_at(const char *choices, int i, char *buf, size_t size);

/* Levenshtein distance (capped at 64 for long strings). */
int job_edit_distance(const char *a, const char *b);
/* Is a within typo distance of b? */
bool job_close_enough(const char *a, const char *b);

/* The range as text for messages and docs: "> 0", ">= 1", "in [0, 1)". Empty when none. */
void job_range_text(const job_key *k, char *buf, size_t size);
/* A type's name for messages and docs ("an integer", "a list of names"). */
const char *job_type_phrase(const job_key *k);

#endif
