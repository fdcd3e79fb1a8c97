/* Reading hpack-test-case stories (JSON, with jansson) for the HPACK interop
 * tests. A story is {"cases": [{"seqno", "header_table_size"?, "wire"?,
 * "headers": [{name: value}, ...]}, ...]}; one story is one connection.
 * Include after <cmocka.h>. */
#ifndef LOOM_TESTS_HPACK_STORY_H
#define LOOM_TESTS_HPACK_STORY_H

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/hpack.h"

/* The story files (story_*.json) of a folder, sorted by name. Returns how
 * many (0 when the folder is missing); free with story_list_free(). */
static inline int story_list(const char *dir, char ***paths)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort), k = 0;
    *paths = NULL;
    if (n < 0) return 0;
    *paths = calloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        size_t len = strlen(name);
        if (!strncmp(name, "story_", 6) && len > 5 && !strcmp(name + len - 5, ".json")) {
            size_t sz = strlen(dir) + len + 2;
            (*paths)[k] = malloc(sz);
            snprintf((*paths)[k], sz, "%s/%s", dir, name);
            k++;
        }
        free(ents[i]);
    }
    free(ents);
    return k;
}

static inline void story_list_free(char **paths, int n)
{
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* The implementation folders (every subfolder but raw-data), sorted. */
static inline int story_folders(const char *root, char ***names)
{
    struct dirent **ents;
    int n = scandir(root, &ents, NULL, alphasort), k = 0;
    *names = NULL;
    if (n < 0) return 0;
    *names = calloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", root, name);
        DIR *d = name[0] != '.' && strcmp(name, "raw-data") ? opendir(path) : NULL;
        if (d) {
            closedir(d);
            (*names)[k++] = strdup(name);
        }
        free(ents[i]);
    }
    free(ents);
    return k;
}

static inline json_t *story_load(const char *path)
{
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) fail_msg("%s: line %d: %s", path, err.line, err.text);
    json_t *cases = json_object_get(root, "cases");
    if (!json_is_array(cases)) fail_msg("%s: no cases array", path);
    return root;
}

/* A case's headers as loom fields, pointing into the JSON (valid while it
 * lives). *n gets the count; free the array. */
static inline loom_hpack_field *story_fields(const char *path, json_t *c, size_t *n)
{
    json_t *headers = json_object_get(c, "headers");
    if (!json_is_array(headers)) fail_msg("%s: a case without headers", path);
    *n = json_array_size(headers);
    loom_hpack_field *f = calloc(*n + 1, sizeof(*f));
    for (size_t i = 0; i < *n; i++) {
        json_t *h = json_array_get(headers, i);
        const char *name;
        json_t *v;
        if (!json_is_object(h) || json_object_size(h) != 1)
            fail_msg("%s: a header that is not {name: value}", path);
        json_object_foreach(h, name, v)
        {
            if (!json_is_string(v)) fail_msg("%s: header %s: value not a string", path, name);
            f[i].name = (const uint8_t *)name;
            f[i].name_len = strlen(name);
            f[i].value = (const uint8_t *)json_string_value(v);
            f[i].value_len = json_string_length(v);
        }
    }
    return f;
}

static inline int story_seqno(json_t *c, size_t index)
{
    json_t *s = json_object_get(c, "seqno");
    return json_is_integer(s) ? (int)json_integer_value(s) : (int)index;
}

#endif
