/* loom serve's configuration file (see config.h). */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MAX_ITEMS 1024

static int is_bool(const char *v, int *out)
{
    static const char *const t[] = {"true", "yes", "on"}, *const f[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(v, t[i])) return *out = 1, 1;
        if (!strcasecmp(v, f[i])) return *out = 0, 1;
    }
    return 0;
}

static int add(config *c, const char *s, int line)
{
    if (c->argc >= MAX_ITEMS) return -1;
    c->argv[c->argc] = strdup(s);
    c->line[c->argc] = line;
    return c->argv[c->argc++] ? 0 : -1;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* One virtual host: a mapping with name (one or a list), root, cert, key,
 * push-map. */
static int host(yaml_document_t *d, yaml_node_t *m, server_vhost *h, const char *path, char *err,
                size_t errlen)
{
    memset(h, 0, sizeof(*h));
    h->line = (int)m->start_mark.line + 1;
    if (m->type != YAML_MAPPING_NODE) {
        snprintf(err, errlen, "%s:%d: a host is a mapping (name:, root:, cert:, key:, push-map:)",
                 path, h->line);
        return -1;
    }
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key),
                    *v = yaml_document_get_node(d, p->value);
        const char *key = scalar(k), *val = scalar(v);
        int line = (int)k->start_mark.line + 1;
        if (key && !strcmp(key, "name") && v->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top && h->nnames < SERVER_MAX_NAMES; it++) {
                const char *nm = scalar(yaml_document_get_node(d, *it));
                if (!nm) goto bad;
                h->names[h->nnames++] = strdup(nm);
            }
            continue;
        }
        if (!key || !val) goto bad;
        char **slot = !strcmp(key, "root")       ? &h->root
                      : !strcmp(key, "cert")     ? &h->cert
                      : !strcmp(key, "key")      ? &h->key
                      : !strcmp(key, "push-map") ? &h->push_map
                                                 : NULL;
        if (!strcmp(key, "name") && h->nnames < SERVER_MAX_NAMES) {
            h->names[h->nnames++] = strdup(val);
            continue;
        }
        if (!slot) {
            snprintf(err, errlen, "%s:%d: a host has name, root, cert, key and push-map, not '%s'",
                     path, line, key);
            return -1;
        }
        *slot = strdup(val);
        if (slot == &h->root) h->root_line = line;
        if (slot == &h->cert) h->cert_line = line;
        continue;
    bad:
        snprintf(err, errlen, "%s:%d: a host's %s takes a value (names: one or a list)", path, line,
                 key ? key : "key");
        return -1;
    }
    if (!h->nnames || !h->root) {
        snprintf(err, errlen, "%s:%d: a host needs a name and a root", path, h->line);
        return -1;
    }
    if (!h->cert != !h->key) {
        snprintf(err, errlen, "%s:%d: a host's cert and key go together", path, h->line);
        return -1;
    }
    return 0;
}

int config_load(const char *path, config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->argv = calloc(MAX_ITEMS + 1, sizeof(*c->argv));
    c->line = calloc(MAX_ITEMS + 1, sizeof(*c->line));
    FILE *f = fopen(path, "rb");
    if (!c->argv || !c->line || !f) {
        snprintf(err, errlen, "cannot read %s: %s", path, f ? "out of memory" : strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = -1;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu: %s%s%s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "not YAML", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) { /* an empty file: nothing configured */
        rc = 0;
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        snprintf(err, errlen, "%s:%zu: the configuration is a mapping of directives (workers: 4)",
                 path, root->start_mark.line + 1);
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *key = scalar(k);
        int line = (int)k->start_mark.line + 1;
        if (!key) {
            snprintf(err, errlen, "%s:%d: a directive's name is a word", path, line);
            goto out;
        }
        if (!strcmp(key, "hosts")) {
            if (v->type != YAML_SEQUENCE_NODE) {
                snprintf(err, errlen, "%s:%d: hosts is a list of hosts", path, line);
                goto out;
            }
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                if (c->nhosts == SERVER_MAX_HOSTS) {
                    snprintf(err, errlen, "%s:%d: at most %d hosts", path, line, SERVER_MAX_HOSTS);
                    goto out;
                }
                if (host(&doc, yaml_document_get_node(&doc, *it), &c->hosts[c->nhosts++], path, err,
                         errlen) < 0)
                    goto out;
            }
            continue;
        }
        if (!strcmp(key, "config") || !strcmp(key, "check-config") || !strcmp(key, "help")) {
            snprintf(err, errlen, "%s:%d: %s is not a directive", path, line, key);
            goto out;
        }
        char flag[128];
        snprintf(flag, sizeof(flag), "%s%s", strcmp(key, "root") ? "--" : "", key);
        /* one value, or a list of them (a repeated flag) */
        yaml_node_item_t *items = NULL, *end = NULL, one = p->value;
        if (v->type == YAML_SEQUENCE_NODE) {
            items = v->data.sequence.items.start;
            end = v->data.sequence.items.top;
        } else {
            items = &one;
            end = &one + 1;
        }
        for (yaml_node_item_t *it = items; it < end; it++) {
            yaml_node_t *n = yaml_document_get_node(&doc, *it);
            const char *val = scalar(n);
            int vl = (int)n->start_mark.line + 1, b;
            if (!val) {
                snprintf(err, errlen, "%s:%d: %s takes a value or a list of values", path, vl, key);
                goto out;
            }
            if (!strcmp(key, "root")) { /* DIR */
                if (add(c, val, vl) < 0) goto nomem;
                continue;
            }
            int style_plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            if (style_plain && is_bool(val, &b)) { /* a switch: on, or left out */
                if (b && add(c, flag, vl) < 0) goto nomem;
                continue;
            }
            if (add(c, flag, vl) < 0 || add(c, val, vl) < 0) goto nomem;
        }
    }
    rc = 0;
    goto out;
nomem:
    snprintf(err, errlen, "%s: too many directives (at most %d values)", path, MAX_ITEMS / 2);
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

void config_free(config *c)
{
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    free(c->line);
    for (int i = 0; i < c->nhosts; i++) {
        server_vhost *h = &c->hosts[i];
        for (int k = 0; k < h->nnames; k++)
            free(h->names[k]);
        free(h->root);
        free(h->cert);
        free(h->key);
        free(h->push_map);
    }
    memset(c, 0, sizeof(*c));
}
