/*
 * A YAML document as a small tree that remembers where every key and value was written, built
 * from libyaml's document API, plus the `--set key.path=value` overrides applied to it.
 *
 * All nodes and strings live in the tree's arena and go away with jtree_free. A node made by
 * an override has line 0 and src "--set key.path=value", so messages about it name the
 * override instead of a file position. Aliases are expanded (with a node budget, so a
 * "billion laughs" document fails instead of exhausting memory); duplicate keys, non-scalar
 * keys and more than one document are errors.
 */
#ifndef VKFT_JOB_YAML_TREE_H
#define VKFT_JOB_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef enum jnode_type { JNODE_SCALAR, JNODE_SEQ, JNODE_MAP } jnode_type;

typedef struct jnode jnode;

typedef struct jpair {
    const char *key;
    int line, col;              /* of the key; 0 when an override added it */
    const char *src;            /* as jnode.src */
    jnode *val;
} jpair;

struct jnode {
    jnode_type type;
    const char *text;           /* SCALAR: its text (NUL-terminated) */
    bool plain;                 /* SCALAR: unquoted (so it may be null, a bool or a number) */
    int line, col;              /* 1-based; 0 when it came from an override */
    const char *src;            /* the file name, or "--set key=value" */
    jnode **items;              /* SEQ */
    jpair *pairs;               /* MAP */
    int n, cap;                 /* items or pairs */
};

typedef struct jtree {
    struct jarena *arena;
    jnode *root;                /* NULL for an empty document */
    const char *name;           /* file name, for messages */
} jtree;

/* Parses text[0..len) (a single YAML document). On failure the tree is freed. */
vkft_status jtree_parse(jtree *t, const char *text, size_t len, const char *name,
                        vkft_err *err);
/* Applies one "key.path=value" override: the value is parsed as YAML and replaces (or adds)
 * the node at key.path, creating mappings on the way; "[i]" addresses an existing list item.
 * On failure the tree may hold new empty mappings; callers discard it. */
vkft_status jtree_apply_set(jtree *t, const char *set, vkft_err *err);
void jtree_free(jtree *t);

/* Member of a mapping by key, or NULL (also when m is not a mapping). *pair gets its pair. */
jnode *jtree_get(const jnode *m, const char *key, const jpair **pair);

/* How a plain scalar reads under the YAML 1.2 core schema. Quoted scalars are strings. */
typedef enum jscalar { JS_NULL, JS_BOOL, JS_INT, JS_FLOAT, JS_STRING } jscalar;
jscalar jtree_classify(const jnode *n);
/* Is n a null (a plain ~, null or empty scalar)? */
bool jtree_is_null(const jnode *n);

/* "file:line:col" or the override's text, into buf. */
const char *jtree_where(const jnode *n, char *buf, size_t size);
const char *jtree_where_key(const jpair *p, char *buf, size_t size);

/* Copies s into the tree's arena (NULL on allocation failure). */
char *jtree_strdup(jtree *t, const char *s);

#endif
