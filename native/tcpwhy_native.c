// SPDX-License-Identifier: MIT
/*
 * tcpwhy's loader: a small N-API addon over the system libbpf.
 *
 * It opens the BPF object, sets its read-only configuration, loads and attaches
 * the programs the JavaScript side chose, and drains the ring buffer on a thread
 * of its own. Records are copied into batches and handed to JavaScript through a
 * thread-safe function, so JavaScript runs once per batch, not once per event.
 * When JavaScript falls behind, the queue of batches fills, the thread blocks,
 * the ring buffer fills and the kernel counts what it could not store: losses
 * are counted where they happen, never silent.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "../bpf/tcpwhy.h"

#define MAX_LINKS 16
#define BATCH_BYTES (256 * 1024)
#define BATCH_MAX_AGE_MS 25
#define QUEUE_BATCHES 8

/* ---------- error helpers ---------- */

static char libbpf_log[8192];
static size_t libbpf_log_len;

/* Keeps the end of what libbpf says: a refused program's verifier log can be
 * long, and the verifier's reason is its last line. */
static int log_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	va_list again;

	if (level == LIBBPF_DEBUG)
		return 0;
	/* one message may be a whole verifier log: measure it first */
	va_copy(again, args);
	int n = vsnprintf(NULL, 0, fmt, args);
	char *text = n > 0 ? malloc((size_t)n + 1) : NULL;
	if (!text) {
		va_end(again);
		return 0;
	}
	vsnprintf(text, (size_t)n + 1, fmt, again);
	va_end(again);
	size_t room = sizeof(libbpf_log) - 1;
	size_t len = (size_t)n;
	const char *from = text;
	if (len > room) {
		from += len - room;
		len = room;
	}
	if (libbpf_log_len + len > room) {
		size_t drop = libbpf_log_len + len - room;
		memmove(libbpf_log, libbpf_log + drop, libbpf_log_len - drop);
		libbpf_log_len -= drop;
	}
	memcpy(libbpf_log + libbpf_log_len, from, len);
	libbpf_log_len += len;
	libbpf_log[libbpf_log_len] = 0;
	free(text);
	return 0;
}

static void log_reset(void)
{
	libbpf_log_len = 0;
	libbpf_log[0] = 0;
}

/* Throws an Error with .code = errno name and .libbpf = what libbpf said. */
static napi_value throw_errno(napi_env env, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	napi_value error, text, code, log, num;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err < 0)
		err = -err;
	size_t len = strlen(msg);
	if (err)
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(err));
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
	napi_create_error(env, NULL, text, &error);
	napi_create_int32(env, err, &num);
	napi_set_named_property(env, error, "errno", num);
	napi_create_string_utf8(env, err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : err == ENOENT ? "ENOENT" : err == EINVAL ? "EINVAL" : "EBPF",
				NAPI_AUTO_LENGTH, &code);
	napi_set_named_property(env, error, "code", code);
	napi_create_string_utf8(env, libbpf_log, libbpf_log_len, &log);
	napi_set_named_property(env, error, "libbpf", log);
	napi_throw(env, error);
	return NULL;
}

#define NAPI_OK(call)                                                              \
	do {                                                                       \
		if ((call) != napi_ok) {                                           \
			napi_throw_error(env, NULL, "N-API call failed: " #call); \
			return NULL;                                               \
		}                                                                  \
	} while (0)

static bool get_string(napi_env env, napi_value v, char *buf, size_t size)
{
	size_t len;

	return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok;
}

static bool get_prop(napi_env env, napi_value obj, const char *name, napi_value *out)
{
	bool has = false;
	napi_valuetype t;

	if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has)
		return false;
	if (napi_get_named_property(env, obj, name, out) != napi_ok)
		return false;
	napi_typeof(env, *out, &t);
	return t != napi_undefined && t != napi_null;
}

static uint32_t get_u32_prop(napi_env env, napi_value obj, const char *name, uint32_t dflt)
{
	napi_value v;
	uint32_t out = dflt;

	if (get_prop(env, obj, name, &v))
		napi_get_value_uint32(env, v, &out);
	return out;
}

/* ---------- BTF queries (feature probing and the event layout) ---------- */

static struct btf *open_btf(const char *path)
{
	struct btf *btf = path && *path ? btf__parse(path, NULL) : btf__load_vmlinux_btf();

	return libbpf_get_error(btf) ? NULL : btf;
}

static const struct btf_type *skip_mods(const struct btf *btf, __u32 id, __u32 *out_id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	while (t && (btf_is_typedef(t) || btf_is_const(t) || btf_is_volatile(t) || btf_is_restrict(t))) {
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	if (out_id)
		*out_id = id;
	return t;
}

/* btfQuery(btfPath|null, {enums: [..], typedefParams: [..], members: [[struct, member]..], funcs: [..]})
 * -> {enums: {name: [[k, v]..] | null}, typedefParams: {name: n | -1}, members: {"s.m": bool}, funcs: {name: bool}}
 * Returns null when there is no BTF at all. */
static napi_value btf_query(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], result, part, list, item;
	char path[4096] = "", name[256], name2[256];
	uint32_t n, i;
	napi_valuetype t;

	NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	napi_typeof(env, argv[0], &t);
	if (t == napi_string)
		get_string(env, argv[0], path, sizeof(path));
	log_reset();
	struct btf *btf = open_btf(path);
	if (!btf) {
		napi_get_null(env, &result);
		return result;
	}
	napi_create_object(env, &result);

	napi_create_object(env, &part);
	if (get_prop(env, argv[1], "enums", &list)) {
		napi_get_array_length(env, list, &n);
		for (i = 0; i < n; i++) {
			napi_get_element(env, list, i, &item);
			get_string(env, item, name, sizeof(name));
			__s32 id = btf__find_by_name_kind(btf, name, BTF_KIND_ENUM);
			napi_value entries;
			if (id < 0) {
				napi_get_null(env, &entries);
			} else {
				const struct btf_type *et = btf__type_by_id(btf, id);
				const struct btf_enum *e = btf_enum(et);
				napi_create_array(env, &entries);
				for (__u16 k = 0; k < btf_vlen(et); k++) {
					napi_value pair, key, val;
					napi_create_array(env, &pair);
					napi_create_string_utf8(env, btf__name_by_offset(btf, e[k].name_off), NAPI_AUTO_LENGTH, &key);
					napi_create_int64(env, e[k].val, &val);
					napi_set_element(env, pair, 0, key);
					napi_set_element(env, pair, 1, val);
					napi_set_element(env, entries, k, pair);
				}
			}
			napi_set_named_property(env, part, name, entries);
		}
	}
	napi_set_named_property(env, result, "enums", part);

	napi_create_object(env, &part);
	if (get_prop(env, argv[1], "typedefParams", &list)) {
		napi_get_array_length(env, list, &n);
		for (i = 0; i < n; i++) {
			napi_get_element(env, list, i, &item);
			get_string(env, item, name, sizeof(name));
			int params = -1;
			__s32 id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
			if (id >= 0) {
				const struct btf_type *pt = skip_mods(btf, id, NULL);
				if (pt && btf_is_ptr(pt))
					pt = btf__type_by_id(btf, pt->type);
				if (pt && btf_is_func_proto(pt))
					params = btf_vlen(pt);
			}
			napi_value v;
			napi_create_int32(env, params, &v);
			napi_set_named_property(env, part, name, v);
		}
	}
	napi_set_named_property(env, result, "typedefParams", part);

	napi_create_object(env, &part);
	if (get_prop(env, argv[1], "members", &list)) {
		napi_get_array_length(env, list, &n);
		for (i = 0; i < n; i++) {
			napi_value s, m, v;
			bool found = false;
			napi_get_element(env, list, i, &item);
			napi_get_element(env, item, 0, &s);
			napi_get_element(env, item, 1, &m);
			get_string(env, s, name, sizeof(name));
			get_string(env, m, name2, sizeof(name2));
			__s32 id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
			if (id >= 0) {
				const struct btf_type *st = btf__type_by_id(btf, id);
				const struct btf_member *mb = btf_members(st);
				for (__u16 k = 0; k < btf_vlen(st); k++)
					if (!strcmp(btf__name_by_offset(btf, mb[k].name_off), name2))
						found = true;
			}
			char key[520];
			snprintf(key, sizeof(key), "%s.%s", name, name2);
			napi_get_boolean(env, found, &v);
			napi_set_named_property(env, part, key, v);
		}
	}
	napi_set_named_property(env, result, "members", part);

	napi_create_object(env, &part);
	if (get_prop(env, argv[1], "funcs", &list)) {
		napi_get_array_length(env, list, &n);
		for (i = 0; i < n; i++) {
			napi_value v;
			napi_get_element(env, list, i, &item);
			get_string(env, item, name, sizeof(name));
			napi_get_boolean(env, btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) >= 0, &v);
			napi_set_named_property(env, part, name, v);
		}
	}
	napi_set_named_property(env, result, "funcs", part);
	btf__free(btf);
	return result;
}

/* structLayout(objPath, structName) -> [{name, offset, size, signed, count}]
 * count is the element count for arrays (size is then the element size), 0 for
 * scalars. Read from the BTF that clang wrote into the BPF object. */
static napi_value struct_layout(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], result;
	char path[4096], name[256];

	NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || !get_string(env, argv[0], path, sizeof(path)) || !get_string(env, argv[1], name, sizeof(name))) {
		napi_throw_type_error(env, NULL, "structLayout(objPath, structName)");
		return NULL;
	}
	log_reset();
	struct btf *btf = btf__parse_elf(path, NULL);
	if (libbpf_get_error(btf))
		return throw_errno(env, (int)libbpf_get_error(btf), "cannot read BTF from %s", path);
	__s32 id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
	if (id < 0) {
		btf__free(btf);
		return throw_errno(env, ENOENT, "struct %s not in %s", name, path);
	}
	const struct btf_type *st = btf__type_by_id(btf, id);
	const struct btf_member *m = btf_members(st);
	napi_create_array(env, &result);
	for (__u16 k = 0; k < btf_vlen(st); k++) {
		napi_value o, v;
		__u32 tid;
		const struct btf_type *mt = skip_mods(btf, m[k].type, &tid);
		__u32 count = 0, size = 0;
		bool is_signed = false;

		if (btf_is_array(mt)) {
			const struct btf_array *a = btf_array(mt);
			count = a->nelems;
			mt = skip_mods(btf, a->type, &tid);
		}
		if (btf_is_int(mt)) {
			size = mt->size;
			is_signed = btf_int_encoding(mt) & BTF_INT_SIGNED;
		} else if (btf_is_enum(mt)) {
			size = mt->size;
		} else {
			char member[128];
			snprintf(member, sizeof(member), "%s", btf__name_by_offset(btf, m[k].name_off));
			btf__free(btf);
			return throw_errno(env, EINVAL, "member %s of %s is neither an integer nor an array of them", member, name);
		}
		napi_create_object(env, &o);
		napi_create_string_utf8(env, btf__name_by_offset(btf, m[k].name_off), NAPI_AUTO_LENGTH, &v);
		napi_set_named_property(env, o, "name", v);
		napi_create_uint32(env, btf_member_bit_offset(st, k) / 8, &v);
		napi_set_named_property(env, o, "offset", v);
		napi_create_uint32(env, size, &v);
		napi_set_named_property(env, o, "size", v);
		napi_get_boolean(env, is_signed, &v);
		napi_set_named_property(env, o, "signed", v);
		napi_create_uint32(env, count, &v);
		napi_set_named_property(env, o, "count", v);
		napi_set_element(env, result, k, o);
	}
	napi_value total;
	napi_create_uint32(env, st->size, &total);
	napi_set_named_property(env, result, "structSize", total);
	btf__free(btf);
	return result;
}

/* ---------- a loaded session ---------- */

struct batch {
	char *data;
	size_t len;
	uint32_t count;
	bool done;
};

struct session {
	struct bpf_object *obj;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	struct ring_buffer *rb;
	pthread_t thread;
	bool thread_started;
	volatile bool stopping;
	napi_threadsafe_function tsfn;
	/* One ArrayBuffer that every batch is copied into before JavaScript
	 * reads it (synchronously, keeping nothing): no allocation per batch. */
	napi_ref shared_ref;
	void *shared_data;
	volatile bool thread_done; /* the poll thread has sent its last batch */
	bool close_pending;        /* close() came first: the end marker detaches */
	int thread_error;          /* why the poll thread stopped early (-errno) */
	struct batch cur;
	uint64_t batch_started_ms;
	bool closed;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void session_detach(struct session *s)
{
	for (int i = 0; i < s->nlinks; i++)
		bpf_link__destroy(s->links[i]);
	s->nlinks = 0;
	ring_buffer__free(s->rb);
	s->rb = NULL;
	bpf_object__close(s->obj);
	s->obj = NULL;
	s->closed = true;
}

static void session_finalize(napi_env env, void *data, void *hint)
{
	struct session *s = data;

	(void)env;
	(void)hint;
	if (s->thread_started && !s->thread_done) {
		/* the thread and its queued batches still use the session: stop
		 * it and let it be (this only happens at exit without close()) */
		s->stopping = true;
		s->close_pending = true;
		return;
	}
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	if (!s->closed)
		session_detach(s);
	free(s->cur.data);
	free(s);
}

static struct session *get_session(napi_env env, napi_value v)
{
	void *p = NULL;

	if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
		napi_throw_type_error(env, NULL, "not a tcpwhy session");
		return NULL;
	}
	return p;
}

/* The session in the first argument, and up to `n` arguments in argv (unset
 * ones are undefined). NULL with a pending TypeError when it is not one. */
static struct session *session_args(napi_env env, napi_callback_info info, napi_value *argv, size_t n)
{
	size_t argc = n;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
		napi_throw_type_error(env, NULL, "a tcpwhy session is required");
		return NULL;
	}
	return get_session(env, argv[0]);
}

/* Writes the config struct into the object's .rodata at the offset of `cfg`. */
static int set_config(struct bpf_object *obj, const struct tcpwhy_config *cfg)
{
	struct bpf_map *map;
	size_t size = 0;
	struct btf *btf = bpf_object__btf(obj);

	bpf_object__for_each_map(map, obj) {
		/* "<obj>.rodata", not ".rodata.str1.1" and the like */
		const char *n = bpf_map__name(map);
		size_t len = strlen(n);
		if (len >= 7 && !strcmp(n + len - 7, ".rodata"))
			break;
	}
	if (!map || !btf)
		return -ENOENT;
	char *data = (char *)bpf_map__initial_value(map, &size);
	__s32 sec = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (!data || sec < 0)
		return -ENOENT;
	const struct btf_type *t = btf__type_by_id(btf, sec);
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	for (__u16 i = 0; i < btf_vlen(t); i++) {
		const struct btf_type *var = btf__type_by_id(btf, vs[i].type);
		if (!strcmp(btf__name_by_offset(btf, var->name_off), "cfg")) {
			if (vs[i].size != sizeof(*cfg) || vs[i].offset + sizeof(*cfg) > size)
				return -EINVAL;
			memcpy(data + vs[i].offset, cfg, sizeof(*cfg));
			return 0;
		}
	}
	return -ENOENT;
}

static int fill_filter(napi_env env, struct bpf_object *obj, napi_value opts, const char *prop, const char *map_name,
		       size_t key_size)
{
	napi_value list, item;
	uint32_t n;
	__u8 one = 1;
	struct bpf_map *map = bpf_object__find_map_by_name(obj, map_name);

	if (!get_prop(env, opts, prop, &list) || !map)
		return 0;
	napi_get_array_length(env, list, &n);
	for (uint32_t i = 0; i < n; i++) {
		__u8 key[TCPWHY_ADDR_LEN] = {0};
		napi_get_element(env, list, i, &item);
		if (key_size == sizeof(struct tcpwhy_addr_key)) {
			void *buf;
			size_t len;
			if (napi_get_buffer_info(env, item, &buf, &len) != napi_ok || len != key_size)
				return -EINVAL;
			memcpy(key, buf, key_size);
		} else {
			uint32_t v;
			napi_get_value_uint32(env, item, &v);
			if (key_size == 2) {
				__u16 v16 = (__u16)v;
				memcpy(key, &v16, 2);
			} else {
				memcpy(key, &v, 4);
			}
		}
		int err = bpf_map_update_elem(bpf_map__fd(map), key, &one, BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

/* Copies a small numeric filter set into the config (returns its size), or
 * returns 0 when the set is too large and the filter map must serve. */
static uint32_t inline_set(napi_env env, napi_value opts, const char *prop, void *out, size_t elem)
{
	napi_value list, item;
	uint32_t n = 0, v;

	if (!get_prop(env, opts, prop, &list))
		return 0;
	napi_get_array_length(env, list, &n);
	if (n > TCPWHY_INLINE_FILTER)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		napi_get_element(env, list, i, &item);
		napi_get_value_uint32(env, item, &v);
		if (elem == 2)
			((__u16 *)out)[i] = (__u16)v;
		else
			((__u32 *)out)[i] = v;
	}
	return n;
}

/* open(objPath, {programs: [names], config: {...}, ringbufBytes, btfPath, ports, addrs, pids, netns})
 * -> session. Loads only the named programs; attaches nothing yet. */
static napi_value session_open(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], v, list, item, out;
	char path[4096], btf_path[4096] = "", name[128];
	struct tcpwhy_config cfg = {0};
	int err;

	NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || !get_string(env, argv[0], path, sizeof(path))) {
		napi_throw_type_error(env, NULL, "open(objPath, options)");
		return NULL;
	}
	log_reset();
	if (get_prop(env, argv[1], "btfPath", &v))
		get_string(env, v, btf_path, sizeof(btf_path));
	/* Kconfig values come from user space: libbpf would otherwise insist on
	 * /proc/config.gz or /boot/config-*, which containers often lack. */
	char kconfig[256] = "";
	if (get_prop(env, argv[1], "kconfig", &v))
		get_string(env, v, kconfig, sizeof(kconfig));
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf_path[0] ? btf_path : NULL, .kconfig = kconfig);
	struct bpf_object *obj = bpf_object__open_file(path, &oo);
	if (libbpf_get_error(obj))
		return throw_errno(env, (int)libbpf_get_error(obj), "cannot open BPF object %s", path);

	/* Autoload only the chosen programs. */
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj) bpf_program__set_autoload(prog, false);
	if (!get_prop(env, argv[1], "programs", &list)) {
		bpf_object__close(obj);
		napi_throw_type_error(env, NULL, "options.programs is required");
		return NULL;
	}
	uint32_t n;
	napi_get_array_length(env, list, &n);
	for (uint32_t i = 0; i < n; i++) {
		napi_get_element(env, list, i, &item);
		get_string(env, item, name, sizeof(name));
		prog = bpf_object__find_program_by_name(obj, name);
		if (!prog) {
			bpf_object__close(obj);
			return throw_errno(env, ENOENT, "no BPF program named %s", name);
		}
		bpf_program__set_autoload(prog, true);
	}

	if (get_prop(env, argv[1], "config", &v)) {
		cfg.send_tp_has_reason = get_u32_prop(env, v, "sendTpHasReason", 0);
		cfg.filter_family = get_u32_prop(env, v, "filterFamily", 0);
		cfg.with_stacks = get_u32_prop(env, v, "withStacks", 1);
		cfg.with_states = get_u32_prop(env, v, "withStates", 1);
		cfg.stacks_per_window = get_u32_prop(env, v, "stacksPerWindow", 0);
		cfg.wakeup_bytes = get_u32_prop(env, v, "wakeupBytes", 0);
	}
	napi_value tmp;
	cfg.filter_ports = get_prop(env, argv[1], "ports", &tmp);
	cfg.filter_addrs = get_prop(env, argv[1], "addrs", &tmp);
	cfg.filter_pids = get_prop(env, argv[1], "pids", &tmp);
	cfg.filter_netns = get_prop(env, argv[1], "netns", &tmp);
	cfg.netns_n = inline_set(env, argv[1], "netns", cfg.netns, 4);
	cfg.pids_n = inline_set(env, argv[1], "pids", cfg.pids, 4);
	cfg.ports_n = inline_set(env, argv[1], "ports", cfg.ports, 2);
	err = set_config(obj, &cfg);
	if (err) {
		bpf_object__close(obj);
		return throw_errno(env, err, "cannot set the BPF configuration");
	}
	uint32_t rb_bytes = get_u32_prop(env, argv[1], "ringbufBytes", 0);
	if (rb_bytes) {
		err = bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "events"), rb_bytes);
		if (err) {
			bpf_object__close(obj);
			return throw_errno(env, err, "bad ring buffer size %u", rb_bytes);
		}
	}
	/* maxEntries: {mapName: n}, e.g. small maps for a load that only
	 * probes whether the kernel takes a program */
	napi_value sizes, keys, key, val;
	if (get_prop(env, argv[1], "maxEntries", &sizes) && napi_get_property_names(env, sizes, &keys) == napi_ok) {
		uint32_t nk = 0;
		napi_get_array_length(env, keys, &nk);
		for (uint32_t i = 0; i < nk; i++) {
			uint32_t entries = 0;
			napi_get_element(env, keys, i, &key);
			get_string(env, key, name, sizeof(name));
			napi_get_property(env, sizes, key, &val);
			napi_get_value_uint32(env, val, &entries);
			struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
			if (!m || (err = bpf_map__set_max_entries(m, entries))) {
				bpf_object__close(obj);
				return throw_errno(env, m ? err : ENOENT, "cannot size map %s to %u entries", name, entries);
			}
		}
	}

	err = bpf_object__load(obj);
	if (err) {
		bpf_object__close(obj);
		return throw_errno(env, err, "cannot load BPF programs");
	}
	if ((err = fill_filter(env, obj, argv[1], "ports", "filter_ports", 2)) ||
	    (err = fill_filter(env, obj, argv[1], "addrs", "filter_addrs", sizeof(struct tcpwhy_addr_key))) ||
	    (err = fill_filter(env, obj, argv[1], "pids", "filter_pids", 4)) ||
	    (err = fill_filter(env, obj, argv[1], "netns", "filter_netns", 4))) {
		bpf_object__close(obj);
		return throw_errno(env, err, "cannot fill the filters");
	}

	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		bpf_object__close(obj);
		return throw_errno(env, ENOMEM, "out of memory");
	}
	s->obj = obj;
	/* Parsing the kernel's BTF left megabytes of freed heap behind; give
	 * them back, tcpwhy runs for a long time after this. */
	malloc_trim(0);
	NAPI_OK(napi_create_external(env, s, session_finalize, NULL, &out));
	return out;
}

/* attach(session) -> names of the attached programs. All or nothing. */
static napi_value session_attach(napi_env env, napi_callback_info info)
{
	napi_value argv[1], result, v;
	struct bpf_program *prog;
	uint32_t i = 0;

	struct session *s = session_args(env, info, argv, 1);
	if (!s)
		return NULL;
	log_reset();
	napi_create_array(env, &result);
	bpf_object__for_each_program(prog, s->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (s->nlinks == MAX_LINKS)
			return throw_errno(env, E2BIG, "too many programs");
		struct bpf_link *link = bpf_program__attach(prog);
		long err = libbpf_get_error(link);
		if (err) {
			const char *failed = bpf_program__name(prog);
			for (int k = 0; k < s->nlinks; k++)
				bpf_link__destroy(s->links[k]);
			s->nlinks = 0;
			return throw_errno(env, (int)err, "cannot attach %s (%s)", failed, bpf_program__section_name(prog));
		}
		s->links[s->nlinks++] = link;
		napi_create_string_utf8(env, bpf_program__name(prog), NAPI_AUTO_LENGTH, &v);
		napi_set_element(env, result, i++, v);
	}
	return result;
}

static void release_shared(napi_env env, struct session *s)
{
	if (s->shared_ref) {
		napi_delete_reference(env, s->shared_ref);
		s->shared_ref = NULL;
	}
}

static void call_js(napi_env env, napi_value cb, void *context, void *data)
{
	struct batch *b = data;
	struct session *s = context;

	if (env && cb && b->done && s->close_pending) {
		/* close() was called while the thread ran: finish it now */
		pthread_join(s->thread, NULL);
		s->thread_started = false;
		if (!s->closed)
			session_detach(s);
		release_shared(env, s);
	} else if (env && cb && !s->closed && !s->close_pending) {
		napi_value args[3], global;

		if (b->done)
			napi_get_null(env, &args[0]);
		else if (napi_get_reference_value(env, s->shared_ref, &args[0]) == napi_ok)
			memcpy(s->shared_data, b->data, b->len);
		else
			napi_get_null(env, &args[0]);
		napi_create_uint32(env, b->count, &args[1]);
		napi_create_int32(env, b->done ? s->thread_error : 0, &args[2]);
		napi_get_global(env, &global);
		if (napi_call_function(env, global, cb, 3, args, NULL) == napi_pending_exception) {
			/* JavaScript is to catch its own errors; never leave one pending */
			napi_value ignored;
			napi_get_and_clear_last_exception(env, &ignored);
		}
	}
	free(b->data);
	free(b);
}

/* Hands the current batch to JavaScript; blocks while JavaScript's queue is full. */
static void flush(struct session *s, bool done)
{
	struct batch *b;

	if (!s->cur.len && !done)
		return;
	b = malloc(sizeof(*b));
	if (!b)
		return;
	*b = s->cur;
	b->done = done;
	s->cur.data = NULL;
	s->cur.len = 0;
	s->cur.count = 0;
	if (napi_call_threadsafe_function(s->tsfn, b, napi_tsfn_blocking) != napi_ok) {
		free(b->data);
		free(b);
	}
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct session *s = ctx;

	if (s->cur.data && s->cur.len + size > BATCH_BYTES)
		flush(s, false);
	if (!s->cur.data) {
		s->cur.data = malloc(BATCH_BYTES);
		if (!s->cur.data)
			return -ENOMEM;
		s->batch_started_ms = now_ms();
	}
	memcpy(s->cur.data + s->cur.len, data, size);
	s->cur.len += size;
	s->cur.count++;
	return 0;
}

static void *poll_thread(void *arg)
{
	struct session *s = arg;

	pthread_setname_np(pthread_self(), "tcpwhy-ringbuf");
	while (!s->stopping) {
		/* Sleep until the kernel says much data waits (wakeup_bytes) or the
		 * timer runs out, then drain all of it at once. Reading in bursts
		 * rather than continuously keeps us off the cache lines the kernel
		 * writes, which would otherwise bounce between CPUs on every event. */
		int n = ring_buffer__poll(s->rb, BATCH_MAX_AGE_MS);
		if (n == 0)
			n = ring_buffer__consume(s->rb);
		if (n < 0 && n != -EINTR) {
			s->thread_error = n;
			break;
		}
		if (s->cur.len && (n == 0 || now_ms() - s->batch_started_ms >= BATCH_MAX_AGE_MS))
			flush(s, false);
	}
	ring_buffer__consume(s->rb); /* what the kernel wrote before the stop */
	flush(s, false);
	s->thread_done = true;
	flush(s, true);
	napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
	return NULL;
}

/* start(session, onBatch(arrayBuffer|null, count, error)): null marks the end after
 * stop(), with error < 0 (-errno) if the reader stopped by itself.
 * The buffer is the same one for every batch, larger than the records in it:
 * read `count` records during the call and keep nothing. */
static napi_value session_start(napi_env env, napi_callback_info info)
{
	napi_value argv[2], name;

	struct session *s = session_args(env, info, argv, 2);
	if (!s)
		return NULL;
	if (s->thread_started)
		return throw_errno(env, EBUSY, "already started");
	s->rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(s->obj, "events")), on_record, s, NULL);
	if (!s->rb)
		return throw_errno(env, errno, "cannot open the ring buffer");
	napi_value shared;
	NAPI_OK(napi_create_arraybuffer(env, BATCH_BYTES, &s->shared_data, &shared));
	NAPI_OK(napi_create_reference(env, shared, 1, &s->shared_ref));
	napi_create_string_utf8(env, "tcpwhy-ringbuf", NAPI_AUTO_LENGTH, &name);
	NAPI_OK(napi_create_threadsafe_function(env, argv[1], NULL, name, QUEUE_BATCHES, 1, NULL, NULL, s, call_js,
						&s->tsfn));
	if (pthread_create(&s->thread, NULL, poll_thread, s)) {
		napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
		return throw_errno(env, errno, "cannot start the ring buffer thread");
	}
	s->thread_started = true;
	return NULL;
}

/* stop(session): the thread drains the ring buffer, sends the last batch and
 * then the end marker; close() afterwards detaches everything. */
static napi_value session_stop(napi_env env, napi_callback_info info)
{
	napi_value argv[1];

	struct session *s = session_args(env, info, argv, 1);
	if (s)
		s->stopping = true;
	return NULL;
}

/* close(session): detaches everything. If the reader thread still runs, it
 * is told to stop and the detach happens when its end marker arrives (the
 * thread may be waiting for this very thread to take a batch, so joining here
 * could deadlock); nothing more reaches JavaScript either way. */
static napi_value session_close(napi_env env, napi_callback_info info)
{
	napi_value argv[1];

	struct session *s = session_args(env, info, argv, 1);
	if (!s)
		return NULL;
	s->stopping = true;
	if (s->thread_started && !s->thread_done) {
		s->close_pending = true;
		return NULL;
	}
	if (s->thread_started) {
		pthread_join(s->thread, NULL);
		s->thread_started = false;
	}
	if (!s->closed)
		session_detach(s);
	release_shared(env, s);
	return NULL;
}

/* counters(session) -> {ringbufFull, stackLost, stackSkipped, recursionMisses} summed over CPUs. */
static napi_value session_counters(napi_env env, napi_callback_info info)
{
	napi_value argv[1], result, v;
	__u64 sums[TCPWHY_CNT_MAX] = {0}, misses = 0;

	struct session *s = session_args(env, info, argv, 1);
	if (!s)
		return NULL;
	if (s->closed)
		return throw_errno(env, EBADF, "session closed");
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(__u64));
	int fd = bpf_map__fd(bpf_object__find_map_by_name(s->obj, "counters"));
	for (__u32 k = 0; k < TCPWHY_CNT_MAX && vals; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			sums[k] += vals[c];
	}
	free(vals);
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, s->obj) {
		struct bpf_prog_info pi = {0};
		__u32 len = sizeof(pi);
		int pfd = bpf_program__fd(prog);
		if (pfd >= 0 && !bpf_obj_get_info_by_fd(pfd, &pi, &len))
			misses += pi.recursion_misses;
	}
	napi_create_object(env, &result);
	napi_create_double(env, (double)sums[TCPWHY_CNT_RINGBUF_FULL], &v);
	napi_set_named_property(env, result, "ringbufFull", v);
	napi_create_double(env, (double)sums[TCPWHY_CNT_STACK_LOST], &v);
	napi_set_named_property(env, result, "stackLost", v);
	napi_create_double(env, (double)sums[TCPWHY_CNT_STACK_SKIPPED], &v);
	napi_set_named_property(env, result, "stackSkipped", v);
	napi_create_double(env, (double)misses, &v);
	napi_set_named_property(env, result, "recursionMisses", v);
	return result;
}

/* stack(session, id) -> ArrayBuffer of u64 return addresses (zero-terminated), or null. */
static napi_value session_stack(napi_env env, napi_callback_info info)
{
	napi_value argv[2], result;
	__u64 ips[TCPWHY_STACK_DEPTH];
	uint32_t id;
	void *dst;

	struct session *s = session_args(env, info, argv, 2);
	if (!s)
		return NULL;
	if (s->closed)
		return throw_errno(env, EBADF, "session closed");
	napi_get_value_uint32(env, argv[1], &id);
	int fd = bpf_map__fd(bpf_object__find_map_by_name(s->obj, "stacks"));
	if (bpf_map_lookup_elem(fd, &id, ips)) {
		napi_get_null(env, &result);
		return result;
	}
	napi_create_arraybuffer(env, sizeof(ips), &dst, &result);
	memcpy(dst, ips, sizeof(ips));
	return result;
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{"btfQuery", NULL, btf_query, NULL, NULL, NULL, napi_default, NULL},
		{"structLayout", NULL, struct_layout, NULL, NULL, NULL, napi_default, NULL},
		{"open", NULL, session_open, NULL, NULL, NULL, napi_default, NULL},
		{"attach", NULL, session_attach, NULL, NULL, NULL, napi_default, NULL},
		{"start", NULL, session_start, NULL, NULL, NULL, napi_default, NULL},
		{"stop", NULL, session_stop, NULL, NULL, NULL, napi_default, NULL},
		{"close", NULL, session_close, NULL, NULL, NULL, napi_default, NULL},
		{"counters", NULL, session_counters, NULL, NULL, NULL, napi_default, NULL},
		{"stack", NULL, session_stack, NULL, NULL, NULL, napi_default, NULL},
	};

	libbpf_set_print(log_libbpf);
	napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
