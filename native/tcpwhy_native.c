// SPDX-License-Identifier: MIT
/*
 * tcpwhy's loader: a small N-API addon over the system libbpf.
 *
 * It opens the BPF object through its skeleton (build/tcpwhy.skel.h, made by
 * `bpftool gen skeleton`: the object is compiled into the addon, and its
 * read-only configuration is the typed skel->rodata->cfg), loads and attaches
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
#include <stdatomic.h>
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
#include "tcpwhy.skel.h"

#define MAX_LINKS 16
#define MAX_MAP_SIZES 16
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

/* ---------- N-API calls, each one checked ---------- */

/* Whether an N-API call failed; if so, a JavaScript error names the call
 * (unless one is already pending: a throwing getter, say), so that the caller
 * only has to return. */
static bool napi_failed(napi_env env, napi_status status, const char *call)
{
	const napi_extended_error_info *info = NULL;
	bool pending = false;
	char msg[384];

	if (status == napi_ok)
		return false;
	/* the error path itself: nothing better to do if these fail too */
	(void)napi_get_last_error_info(env, &info);
	(void)napi_is_exception_pending(env, &pending);
	if (!pending) {
		snprintf(msg, sizeof(msg), "N-API call failed (%s): %s",
			 info && info->error_message ? info->error_message : "unknown error", call);
		(void)napi_throw_error(env, NULL, msg);
	}
	return true;
}

/* Runs an N-API call; on failure throws (see napi_failed) and returns `ret`. */
#define NAPI_TRY(ret, call)                          \
	do {                                         \
		if (napi_failed(env, (call), #call)) \
			return ret;                  \
	} while (0)
#define NAPI_OK(call) NAPI_TRY(NULL, call)

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
	const char *name = err == EPERM    ? "EPERM"
			   : err == EACCES ? "EACCES"
			   : err == ENOENT ? "ENOENT"
			   : err == EINVAL ? "EINVAL"
					   : "EBPF";
	NAPI_OK(napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text));
	NAPI_OK(napi_create_error(env, NULL, text, &error));
	NAPI_OK(napi_create_int32(env, err, &num));
	NAPI_OK(napi_set_named_property(env, error, "errno", num));
	NAPI_OK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code));
	NAPI_OK(napi_set_named_property(env, error, "code", code));
	NAPI_OK(napi_create_string_utf8(env, libbpf_log, libbpf_log_len, &log));
	NAPI_OK(napi_set_named_property(env, error, "libbpf", log));
	NAPI_OK(napi_throw(env, error));
	return NULL;
}

static bool exception_pending(napi_env env)
{
	bool pending = true;

	return napi_is_exception_pending(env, &pending) != napi_ok || pending;
}

/* A string argument; false with a pending error if it is none or too long. */
static bool get_string(napi_env env, napi_value v, char *buf, size_t size, const char *what)
{
	size_t len;

	NAPI_TRY(false, napi_get_value_string_utf8(env, v, buf, size, &len));
	if (len + 1 >= size) {
		(void)napi_throw_range_error(env, NULL, what);
		return false;
	}
	return true;
}

/* 1: obj has the property with a value (neither undefined nor null), 0: it
 * has none, -1: an error is pending. */
static int get_prop(napi_env env, napi_value obj, const char *name, napi_value *out)
{
	bool has = false;
	napi_valuetype t;

	NAPI_TRY(-1, napi_has_named_property(env, obj, name, &has));
	if (!has)
		return 0;
	NAPI_TRY(-1, napi_get_named_property(env, obj, name, out));
	NAPI_TRY(-1, napi_typeof(env, *out, &t));
	return t != napi_undefined && t != napi_null;
}

/* Sets *out to the number property `name` if obj has one; false with a
 * pending error when it is not a number. */
static bool get_u32_prop(napi_env env, napi_value obj, const char *name, uint32_t *out)
{
	napi_value v;
	int has = get_prop(env, obj, name, &v);

	if (has < 0)
		return false;
	if (has)
		NAPI_TRY(false, napi_get_value_uint32(env, v, out));
	return true;
}

/* The length of an array argument; false with a pending error if it is not
 * one or longer than `max`. */
static bool get_array(napi_env env, napi_value v, uint32_t max, uint32_t *n, const char *what)
{
	bool is = false;

	NAPI_TRY(false, napi_is_array(env, v, &is));
	if (!is) {
		(void)napi_throw_type_error(env, NULL, what);
		return false;
	}
	NAPI_TRY(false, napi_get_array_length(env, v, n));
	if (*n > max) {
		(void)napi_throw_range_error(env, NULL, what);
		return false;
	}
	return true;
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

/* The names in the array property `prop` of `query`, one by one: calls
 * each(name) and sets the answer it returns as part[name]. */
typedef napi_value (*btf_answer_fn)(napi_env env, const struct btf *btf, const char *name, const char *name2);

static bool answer_each(napi_env env, const struct btf *btf, napi_value query, const char *prop, bool pairs,
			napi_value result, btf_answer_fn each)
{
	napi_value part, list, item, s, m, answer;
	char name[256], name2[256] = "", key[520];
	uint32_t n = 0;
	int has;

	NAPI_TRY(false, napi_create_object(env, &part));
	if ((has = get_prop(env, query, prop, &list)) < 0)
		return false;
	if (has && !get_array(env, list, 4096, &n, "btfQuery: lists of names"))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		NAPI_TRY(false, napi_get_element(env, list, i, &item));
		if (pairs) {
			NAPI_TRY(false, napi_get_element(env, item, 0, &s));
			NAPI_TRY(false, napi_get_element(env, item, 1, &m));
			if (!get_string(env, s, name, sizeof(name), "btfQuery: struct name") ||
			    !get_string(env, m, name2, sizeof(name2), "btfQuery: member name"))
				return false;
			snprintf(key, sizeof(key), "%s.%s", name, name2);
		} else {
			if (!get_string(env, item, name, sizeof(name), "btfQuery: name"))
				return false;
			snprintf(key, sizeof(key), "%s", name);
		}
		if (!(answer = each(env, btf, name, name2)))
			return false;
		NAPI_TRY(false, napi_set_named_property(env, part, key, answer));
	}
	NAPI_TRY(false, napi_set_named_property(env, result, prop, part));
	return true;
}

/* [[name, value]..] of an enum, or null */
static napi_value enum_entries(napi_env env, const struct btf *btf, const char *name, const char *unused)
{
	napi_value entries, pair, key, val;
	__s32 id = btf__find_by_name_kind(btf, name, BTF_KIND_ENUM);

	if (id < 0) {
		NAPI_OK(napi_get_null(env, &entries));
		return entries;
	}
	const struct btf_type *et = btf__type_by_id(btf, id);
	const struct btf_enum *e = btf_enum(et);
	NAPI_OK(napi_create_array(env, &entries));
	for (__u16 k = 0; k < btf_vlen(et); k++) {
		NAPI_OK(napi_create_array(env, &pair));
		NAPI_OK(napi_create_string_utf8(env, btf__name_by_offset(btf, e[k].name_off), NAPI_AUTO_LENGTH, &key));
		NAPI_OK(napi_create_int64(env, e[k].val, &val));
		NAPI_OK(napi_set_element(env, pair, 0, key));
		NAPI_OK(napi_set_element(env, pair, 1, val));
		NAPI_OK(napi_set_element(env, entries, k, pair));
	}
	return entries;
}

/* parameters of the function type a typedef names (through a pointer), or -1 */
static napi_value typedef_params(napi_env env, const struct btf *btf, const char *name, const char *unused)
{
	napi_value v;
	int params = -1;
	__s32 id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);

	if (id >= 0) {
		const struct btf_type *pt = skip_mods(btf, id, NULL);
		if (pt && btf_is_ptr(pt))
			pt = btf__type_by_id(btf, pt->type);
		if (pt && btf_is_func_proto(pt))
			params = btf_vlen(pt);
	}
	NAPI_OK(napi_create_int32(env, params, &v));
	return v;
}

static napi_value has_member(napi_env env, const struct btf *btf, const char *name, const char *member)
{
	napi_value v;
	bool found = false;
	__s32 id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	if (id >= 0) {
		const struct btf_type *st = btf__type_by_id(btf, id);
		const struct btf_member *mb = btf_members(st);
		for (__u16 k = 0; k < btf_vlen(st); k++)
			if (!strcmp(btf__name_by_offset(btf, mb[k].name_off), member))
				found = true;
	}
	NAPI_OK(napi_get_boolean(env, found, &v));
	return v;
}

static napi_value has_func(napi_env env, const struct btf *btf, const char *name, const char *unused)
{
	napi_value v;

	NAPI_OK(napi_get_boolean(env, btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) >= 0, &v));
	return v;
}

/* btfQuery(btfPath|null, {enums: [..], typedefParams: [..], members: [[struct, member]..], funcs: [..]})
 * -> {enums: {name: [[k, v]..] | null}, typedefParams: {name: n | -1}, members: {"s.m": bool}, funcs: {name: bool}}
 * Returns null when there is no BTF at all. */
static napi_value btf_query(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], result;
	char path[4096] = "";
	napi_valuetype t;

	NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2) {
		(void)napi_throw_type_error(env, NULL, "btfQuery(btfPath, query)");
		return NULL;
	}
	NAPI_OK(napi_typeof(env, argv[0], &t));
	if (t == napi_string && !get_string(env, argv[0], path, sizeof(path), "btfQuery: path too long"))
		return NULL;
	log_reset();
	struct btf *btf = open_btf(path);
	if (!btf) {
		NAPI_OK(napi_get_null(env, &result));
		return result;
	}
	bool ok = napi_create_object(env, &result) == napi_ok &&
		  answer_each(env, btf, argv[1], "enums", false, result, enum_entries) &&
		  answer_each(env, btf, argv[1], "typedefParams", false, result, typedef_params) &&
		  answer_each(env, btf, argv[1], "members", true, result, has_member) &&
		  answer_each(env, btf, argv[1], "funcs", false, result, has_func);
	btf__free(btf);
	if (!ok && !exception_pending(env))
		(void)napi_throw_error(env, NULL, "btfQuery failed");
	return ok ? result : NULL;
}

/* One member of a struct as {name, offset, size, signed, count}; NULL with a
 * pending error when it is neither an integer nor an array of them. */
static napi_value member_shape(napi_env env, const struct btf *btf, const struct btf_type *st, __u16 k,
			       const char *sname)
{
	const struct btf_member *m = btf_members(st) + k;
	const char *mname = btf__name_by_offset(btf, m->name_off);
	const struct btf_type *mt = skip_mods(btf, m->type, NULL);
	__u32 count = 0, size = 0;
	bool is_signed = false;
	napi_value o, v;

	if (btf_is_array(mt)) {
		count = btf_array(mt)->nelems;
		mt = skip_mods(btf, btf_array(mt)->type, NULL);
	}
	if (btf_is_int(mt)) {
		size = mt->size;
		is_signed = btf_int_encoding(mt) & BTF_INT_SIGNED;
	} else if (btf_is_enum(mt)) {
		size = mt->size;
	} else {
		return throw_errno(env, EINVAL, "member %s of %s is neither an integer nor an array of them", mname,
				   sname);
	}
	NAPI_OK(napi_create_object(env, &o));
	NAPI_OK(napi_create_string_utf8(env, mname, NAPI_AUTO_LENGTH, &v));
	NAPI_OK(napi_set_named_property(env, o, "name", v));
	NAPI_OK(napi_create_uint32(env, btf_member_bit_offset(st, k) / 8, &v));
	NAPI_OK(napi_set_named_property(env, o, "offset", v));
	NAPI_OK(napi_create_uint32(env, size, &v));
	NAPI_OK(napi_set_named_property(env, o, "size", v));
	NAPI_OK(napi_get_boolean(env, is_signed, &v));
	NAPI_OK(napi_set_named_property(env, o, "signed", v));
	NAPI_OK(napi_create_uint32(env, count, &v));
	NAPI_OK(napi_set_named_property(env, o, "count", v));
	return o;
}

static napi_value struct_members(napi_env env, const struct btf *btf, const char *path, const char *name)
{
	napi_value result, o, total;
	__s32 id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	if (id < 0)
		return throw_errno(env, ENOENT, "struct %s not in %s", name, path);
	const struct btf_type *st = btf__type_by_id(btf, id);
	NAPI_OK(napi_create_array(env, &result));
	for (__u16 k = 0; k < btf_vlen(st); k++) {
		if (!(o = member_shape(env, btf, st, k, name)))
			return NULL;
		NAPI_OK(napi_set_element(env, result, k, o));
	}
	NAPI_OK(napi_create_uint32(env, st->size, &total));
	NAPI_OK(napi_set_named_property(env, result, "structSize", total));
	return result;
}

/* structLayout(objPath, structName) -> [{name, offset, size, signed, count}]
 * count is the element count for arrays (size is then the element size), 0 for
 * scalars. Read by libbpf from the BTF that clang wrote into the BPF object: the
 * tests compare it with what scripts/gen-contract.mjs read through bpftool. */
static napi_value struct_layout(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], result;
	char path[4096], name[256];

	NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || !get_string(env, argv[0], path, sizeof(path), "structLayout: objPath") ||
	    !get_string(env, argv[1], name, sizeof(name), "structLayout: structName")) {
		if (!exception_pending(env))
			(void)napi_throw_type_error(env, NULL, "structLayout(objPath, structName)");
		return NULL;
	}
	log_reset();
	struct btf *btf = btf__parse_elf(path, NULL);
	if (libbpf_get_error(btf))
		return throw_errno(env, (int)libbpf_get_error(btf), "cannot read BTF from %s", path);
	result = struct_members(env, btf, path, name);
	btf__free(btf);
	return result;
}

/* ---------- a loaded session ---------- */

/* A batch of records on its way to JavaScript. Header and records are one
 * allocation, made before the first record is copied in: handing a batch over
 * needs no memory, so no batch can be lost for want of it. */
struct batch {
	size_t len;
	uint32_t count;
	bool done; /* the end marker: no records */
	char data[];
};

struct session {
	struct tcpwhy_bpf *skel;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	struct ring_buffer *rb;
	pthread_t thread;
	bool thread_started;
	/* written by the JavaScript thread, read by the poll thread */
	atomic_bool stopping;
	napi_threadsafe_function tsfn;
	/* One ArrayBuffer that every batch is copied into before JavaScript
	 * reads it (synchronously, keeping nothing): no allocation per batch. */
	napi_ref shared_ref;
	void *shared_data;
	/* written by the poll thread, read by the JavaScript thread */
	atomic_bool thread_done; /* the poll thread has sent its last batch */
	atomic_int thread_error; /* why the poll thread stopped early (-errno) */
	bool close_pending;      /* close() came first: the end marker detaches */
	struct batch *cur;       /* the batch being filled (poll thread) */
	struct batch end;        /* the end marker, sent once */
	uint64_t batch_started_ms;
	bool closed;
	bool storm_b_current; /* storm_now holds storm_b (JavaScript thread) */
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
	tcpwhy_bpf__destroy(s->skel);
	s->skel = NULL;
	s->closed = true;
}

static void session_finalize(napi_env env, void *data, void *hint)
{
	struct session *s = data;

	(void)env;
	(void)hint;
	if (s->thread_started && !atomic_load(&s->thread_done)) {
		/* the thread and its queued batches still use the session: stop
		 * it and let it be (this only happens at exit without close()) */
		atomic_store(&s->stopping, true);
		s->close_pending = true;
		return;
	}
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	if (!s->closed)
		session_detach(s);
	free(s->cur);
	free(s);
}

static struct session *get_session(napi_env env, napi_value v)
{
	void *p = NULL;

	if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
		if (!exception_pending(env))
			(void)napi_throw_type_error(env, NULL, "not a tcpwhy session");
		return NULL;
	}
	return p;
}

/* The session in the first argument, and up to `n` arguments in argv (unset
 * ones are undefined). NULL with a pending TypeError when it is not one. */
static struct session *session_args(napi_env env, napi_callback_info info, napi_value *argv, size_t n)
{
	size_t argc = n;

	NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1) {
		(void)napi_throw_type_error(env, NULL, "a tcpwhy session is required");
		return NULL;
	}
	return get_session(env, argv[0]);
}

/* ---------- open: JavaScript's options, then libbpf ---------- */

/* A filter option: values for a filter map, and for the inline sets of the config. */
struct filter {
	bool on;
	uint32_t n;
	__u32 vals[TCPWHY_MAX_FILTER];
};

/* Everything open() takes, read from JavaScript before libbpf is asked anything. */
struct open_args {
	char btf_path[4096];
	char kconfig[256];
	uint32_t nprogs;
	char progs[MAX_LINKS][64];
	__u32 send_tp_has_reason, filter_family, stacks_per_window, wakeup_bytes, full_per_key, full_per_window,
		drop_tp_params;
	uint32_t ringbuf_bytes;
	uint32_t nsizes;
	struct {
		char name[64];
		uint32_t entries;
	} sizes[MAX_MAP_SIZES];
	struct filter ports, pids, netns;
	bool addrs_on;
	uint32_t naddrs;
	struct tcpwhy_addr_key addrs[TCPWHY_MAX_FILTER];
};

static bool read_filter(napi_env env, napi_value opts, const char *prop, struct filter *f)
{
	napi_value list, item;
	int has = get_prop(env, opts, prop, &list);

	if (has <= 0)
		return has == 0;
	if (!get_array(env, list, TCPWHY_MAX_FILTER, &f->n, "filter lists hold at most TCPWHY_MAX_FILTER numbers"))
		return false;
	f->on = true;
	for (uint32_t i = 0; i < f->n; i++) {
		NAPI_TRY(false, napi_get_element(env, list, i, &item));
		NAPI_TRY(false, napi_get_value_uint32(env, item, &f->vals[i]));
	}
	return true;
}

static bool read_addrs(napi_env env, napi_value opts, struct open_args *a)
{
	napi_value list, item;
	void *buf;
	size_t len;
	int has = get_prop(env, opts, "addrs", &list);

	if (has <= 0)
		return has == 0;
	if (!get_array(env, list, TCPWHY_MAX_FILTER, &a->naddrs, "addrs: at most TCPWHY_MAX_FILTER buffers"))
		return false;
	a->addrs_on = true;
	for (uint32_t i = 0; i < a->naddrs; i++) {
		NAPI_TRY(false, napi_get_element(env, list, i, &item));
		NAPI_TRY(false, napi_get_buffer_info(env, item, &buf, &len));
		if (len != sizeof(a->addrs[i])) {
			(void)napi_throw_range_error(env, NULL, "addrs: 16-byte keys");
			return false;
		}
		memcpy(&a->addrs[i], buf, len);
	}
	return true;
}

static bool read_open_args(napi_env env, napi_value opts, struct open_args *a)
{
	napi_value v, list, item, keys, key;
	int has;

	if ((has = get_prop(env, opts, "btfPath", &v)) < 0 ||
	    (has && !get_string(env, v, a->btf_path, sizeof(a->btf_path), "btfPath too long")))
		return false;
	if ((has = get_prop(env, opts, "kconfig", &v)) < 0 ||
	    (has && !get_string(env, v, a->kconfig, sizeof(a->kconfig), "kconfig too long")))
		return false;
	if ((has = get_prop(env, opts, "programs", &list)) <= 0) {
		if (!has)
			(void)napi_throw_type_error(env, NULL, "options.programs is required");
		return false;
	}
	if (!get_array(env, list, MAX_LINKS, &a->nprogs, "options.programs: too many programs"))
		return false;
	for (uint32_t i = 0; i < a->nprogs; i++) {
		NAPI_TRY(false, napi_get_element(env, list, i, &item));
		if (!get_string(env, item, a->progs[i], sizeof(a->progs[i]), "options.programs: name too long"))
			return false;
	}
	/* the keys are the members of struct tcpwhy_config (OpenOptions in src/native.ts) */
	if ((has = get_prop(env, opts, "config", &v)) < 0)
		return false;
	if (has && (!get_u32_prop(env, v, "send_tp_has_reason", &a->send_tp_has_reason) ||
		    !get_u32_prop(env, v, "filter_family", &a->filter_family) ||
		    !get_u32_prop(env, v, "stacks_per_window", &a->stacks_per_window) ||
		    !get_u32_prop(env, v, "wakeup_bytes", &a->wakeup_bytes) ||
		    !get_u32_prop(env, v, "full_per_key", &a->full_per_key) ||
		    !get_u32_prop(env, v, "full_per_window", &a->full_per_window) ||
		    !get_u32_prop(env, v, "drop_tp_params", &a->drop_tp_params)))
		return false;
	if (!get_u32_prop(env, opts, "ringbufBytes", &a->ringbuf_bytes))
		return false;
	/* maxEntries: {mapName: n}, e.g. small maps for a load that only
	 * probes whether the kernel takes a program */
	if ((has = get_prop(env, opts, "maxEntries", &v)) < 0)
		return false;
	if (has) {
		NAPI_TRY(false, napi_get_property_names(env, v, &keys));
		if (!get_array(env, keys, MAX_MAP_SIZES, &a->nsizes, "maxEntries: too many maps"))
			return false;
		for (uint32_t i = 0; i < a->nsizes; i++) {
			NAPI_TRY(false, napi_get_element(env, keys, i, &key));
			if (!get_string(env, key, a->sizes[i].name, sizeof(a->sizes[i].name),
					"maxEntries: map name too long"))
				return false;
			NAPI_TRY(false, napi_get_property(env, v, key, &item));
			NAPI_TRY(false, napi_get_value_uint32(env, item, &a->sizes[i].entries));
		}
	}
	return read_filter(env, opts, "ports", &a->ports) && read_filter(env, opts, "pids", &a->pids) &&
	       read_filter(env, opts, "netns", &a->netns) && read_addrs(env, opts, a);
}

/* Copies a small filter set into the config's inline set (returns its size),
 * or returns 0 when the set is too large and the filter map must serve. */
static __u32 inline_set(const struct filter *f, void *out, size_t elem)
{
	if (f->n > TCPWHY_INLINE_FILTER)
		return 0;
	for (uint32_t i = 0; i < f->n; i++) {
		if (elem == 2)
			((__u16 *)out)[i] = (__u16)f->vals[i];
		else
			((__u32 *)out)[i] = f->vals[i];
	}
	return f->n;
}

/* Only rodata the skeleton knows: set before the load, read-only afterwards. */
static void set_config(struct tcpwhy_config *cfg, const struct open_args *a)
{
	cfg->send_tp_has_reason = a->send_tp_has_reason;
	cfg->filter_family = a->filter_family;
	cfg->stacks_per_window = a->stacks_per_window;
	cfg->wakeup_bytes = a->wakeup_bytes;
	cfg->full_per_key = a->full_per_key;
	cfg->full_per_window = a->full_per_window;
	cfg->drop_tp_params = a->drop_tp_params;
	cfg->filter_ports = a->ports.on;
	cfg->filter_addrs = a->addrs_on;
	cfg->filter_pids = a->pids.on;
	cfg->filter_netns = a->netns.on;
	cfg->netns_n = inline_set(&a->netns, cfg->netns, 4);
	cfg->pids_n = inline_set(&a->pids, cfg->pids, 4);
	cfg->ports_n = inline_set(&a->ports, cfg->ports, 2);
}

static int fill_filter(struct bpf_map *map, const struct filter *f, size_t key_size)
{
	__u8 one = 1;

	for (uint32_t i = 0; i < f->n; i++) {
		__u16 v16 = (__u16)f->vals[i];
		int err = bpf_map_update_elem(bpf_map__fd(map), key_size == 2 ? (void *)&v16 : (void *)&f->vals[i],
					      &one, BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

static int fill_filters(struct tcpwhy_bpf *skel, const struct open_args *a)
{
	__u8 one = 1;
	int err;

	if ((err = fill_filter(skel->maps.filter_ports, &a->ports, 2)) ||
	    (err = fill_filter(skel->maps.filter_pids, &a->pids, 4)) ||
	    (err = fill_filter(skel->maps.filter_netns, &a->netns, 4)))
		return err;
	for (uint32_t i = 0; i < a->naddrs; i++)
		if ((err = bpf_map_update_elem(bpf_map__fd(skel->maps.filter_addrs), &a->addrs[i], &one, BPF_ANY)))
			return err;
	return 0;
}

/* Opens, configures and loads the object; NULL with a pending error. Only
 * the named programs load: the caller probes which of them this kernel takes. */
static struct tcpwhy_bpf *load_skeleton(napi_env env, const struct open_args *a)
{
	struct bpf_program *prog;
	int err;

	/* Kconfig values come from user space: libbpf would otherwise insist on
	 * /proc/config.gz or /boot/config-*, which containers often lack. */
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = a->btf_path[0] ? a->btf_path : NULL,
		    .kconfig = a->kconfig);
	struct tcpwhy_bpf *skel = tcpwhy_bpf__open_opts(&oo);
	if (!skel) {
		throw_errno(env, errno, "cannot open the BPF object");
		return NULL;
	}
	bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, false);
	for (uint32_t i = 0; i < a->nprogs; i++) {
		prog = bpf_object__find_program_by_name(skel->obj, a->progs[i]);
		if (!prog) {
			throw_errno(env, ENOENT, "no BPF program named %s", a->progs[i]);
			goto fail;
		}
		bpf_program__set_autoload(prog, true);
	}
	set_config(&skel->rodata->cfg, a);
	if (a->ringbuf_bytes && (err = bpf_map__set_max_entries(skel->maps.events, a->ringbuf_bytes))) {
		throw_errno(env, err, "bad ring buffer size %u", a->ringbuf_bytes);
		goto fail;
	}
	for (uint32_t i = 0; i < a->nsizes; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, a->sizes[i].name);
		if (!m || (err = bpf_map__set_max_entries(m, a->sizes[i].entries))) {
			throw_errno(env, m ? err : ENOENT, "cannot size map %s to %u entries", a->sizes[i].name,
				    a->sizes[i].entries);
			goto fail;
		}
	}
	if ((err = tcpwhy_bpf__load(skel))) {
		throw_errno(env, err, "cannot load BPF programs");
		goto fail;
	}
	if ((err = fill_filters(skel, a))) {
		throw_errno(env, err, "cannot fill the filters");
		goto fail;
	}
	return skel;
fail:
	tcpwhy_bpf__destroy(skel);
	return NULL;
}

/* open({programs: [names], config: {<struct tcpwhy_config member>: n}, ringbufBytes, maxEntries,
 * btfPath, kconfig, ports, addrs, pids, netns}) -> session. Loads only the named
 * programs; attaches nothing yet. */
static napi_value session_open(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], out;

	NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1) {
		(void)napi_throw_type_error(env, NULL, "open(options)");
		return NULL;
	}
	log_reset();
	struct open_args *a = calloc(1, sizeof(*a));
	if (!a)
		return throw_errno(env, ENOMEM, "out of memory");
	struct tcpwhy_bpf *skel = read_open_args(env, argv[0], a) ? load_skeleton(env, a) : NULL;
	free(a);
	if (!skel)
		return NULL;
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		tcpwhy_bpf__destroy(skel);
		return throw_errno(env, ENOMEM, "out of memory");
	}
	s->skel = skel;
	s->end.done = true;
	/* Parsing the kernel's BTF left megabytes of freed heap behind; give
	 * them back, tcpwhy runs for a long time after this. */
	malloc_trim(0);
	if (napi_failed(env, napi_create_external(env, s, session_finalize, NULL, &out), "napi_create_external")) {
		session_detach(s);
		free(s);
		return NULL;
	}
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
	if (s->closed)
		return throw_errno(env, EBADF, "session closed");
	log_reset();
	NAPI_OK(napi_create_array(env, &result));
	bpf_object__for_each_program(prog, s->skel->obj)
	{
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
			return throw_errno(env, (int)err, "cannot attach %s (%s)", failed,
					   bpf_program__section_name(prog));
		}
		s->links[s->nlinks++] = link;
		NAPI_OK(napi_create_string_utf8(env, bpf_program__name(prog), NAPI_AUTO_LENGTH, &v));
		NAPI_OK(napi_set_element(env, result, i++, v));
	}
	return result;
}

static void release_shared(napi_env env, struct session *s)
{
	if (s->shared_ref) {
		/* only fails when the environment is going away anyway */
		(void)napi_delete_reference(env, s->shared_ref);
		s->shared_ref = NULL;
	}
}

/* Hands a batch to the JavaScript callback. A failure of N-API here has no
 * caller to return to: it is thrown, and reaches the process as an uncaught
 * exception rather than passing for the end of the stream. */
static void deliver(napi_env env, napi_value cb, struct session *s, struct batch *b)
{
	napi_value args[3], global, ignored;
	napi_status st;

	if (b->done) {
		NAPI_TRY(, napi_get_null(env, &args[0]));
	} else {
		NAPI_TRY(, napi_get_reference_value(env, s->shared_ref, &args[0]));
		memcpy(s->shared_data, b->data, b->len);
	}
	NAPI_TRY(, napi_create_uint32(env, b->count, &args[1]));
	NAPI_TRY(, napi_create_int32(env, b->done ? atomic_load(&s->thread_error) : 0, &args[2]));
	NAPI_TRY(, napi_get_global(env, &global));
	st = napi_call_function(env, global, cb, 3, args, NULL);
	/* JavaScript is to catch its own errors; never leave one pending */
	if (st == napi_pending_exception)
		NAPI_TRY(, napi_get_and_clear_last_exception(env, &ignored));
	else
		NAPI_TRY(, st);
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
		deliver(env, cb, s, b);
	}
	if (b != &s->end)
		free(b);
}

/* Hands the current batch (or the end marker) to JavaScript; blocks while
 * JavaScript's queue is full. The queue only refuses once JavaScript is
 * shutting down, when nobody is left to read the batch. */
static void flush(struct session *s, bool done)
{
	struct batch *b = done ? &s->end : s->cur;

	if (!b || (!done && !b->len))
		return;
	if (!done)
		s->cur = NULL;
	if (napi_call_threadsafe_function(s->tsfn, b, napi_tsfn_blocking) != napi_ok && b != &s->end)
		free(b);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct session *s = ctx;

	if (s->cur && s->cur->len + size > BATCH_BYTES)
		flush(s, false);
	if (!s->cur) {
		/* the reader stops with -ENOMEM, which JavaScript hears of */
		s->cur = malloc(sizeof(*s->cur) + BATCH_BYTES);
		if (!s->cur)
			return -ENOMEM;
		s->cur->len = 0;
		s->cur->count = 0;
		s->cur->done = false;
		s->batch_started_ms = now_ms();
	}
	memcpy(s->cur->data + s->cur->len, data, size);
	s->cur->len += size;
	s->cur->count++;
	return 0;
}

static void *poll_thread(void *arg)
{
	struct session *s = arg;

	pthread_setname_np(pthread_self(), "tcpwhy-ringbuf");
	while (!atomic_load(&s->stopping)) {
		/* Sleep until the kernel says much data waits (wakeup_bytes) or the
		 * timer runs out, then drain all of it at once. Reading in bursts
		 * rather than continuously keeps us off the cache lines the kernel
		 * writes, which would otherwise bounce between CPUs on every event. */
		int n = ring_buffer__poll(s->rb, BATCH_MAX_AGE_MS);
		if (n == 0)
			n = ring_buffer__consume(s->rb);
		if (n < 0 && n != -EINTR) {
			atomic_store(&s->thread_error, n);
			break;
		}
		if (s->cur && s->cur->len && (n == 0 || now_ms() - s->batch_started_ms >= BATCH_MAX_AGE_MS))
			flush(s, false);
	}
	ring_buffer__consume(s->rb); /* what the kernel wrote before the stop */
	flush(s, false);
	atomic_store(&s->thread_done, true);
	flush(s, true);
	/* fails only when the function is already closing: nothing to release */
	(void)napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
	return NULL;
}

/* start(session, onBatch(arrayBuffer|null, count, error)): null marks the end after
 * stop(), with error < 0 (-errno) if the reader stopped by itself.
 * The buffer is the same one for every batch, larger than the records in it:
 * read `count` records during the call and keep nothing. */
static napi_value session_start(napi_env env, napi_callback_info info)
{
	napi_value argv[2], name, shared;

	struct session *s = session_args(env, info, argv, 2);
	if (!s)
		return NULL;
	if (s->closed)
		return throw_errno(env, EBADF, "session closed");
	if (s->thread_started)
		return throw_errno(env, EBUSY, "already started");
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
	if (!s->rb)
		return throw_errno(env, errno, "cannot open the ring buffer");
	NAPI_OK(napi_create_arraybuffer(env, BATCH_BYTES, &s->shared_data, &shared));
	NAPI_OK(napi_create_reference(env, shared, 1, &s->shared_ref));
	NAPI_OK(napi_create_string_utf8(env, "tcpwhy-ringbuf", NAPI_AUTO_LENGTH, &name));
	NAPI_OK(napi_create_threadsafe_function(env, argv[1], NULL, name, QUEUE_BATCHES, 1, NULL, NULL, s, call_js,
						&s->tsfn));
	int err = pthread_create(&s->thread, NULL, poll_thread, s);
	if (err) {
		(void)napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
		return throw_errno(env, err, "cannot start the ring buffer thread");
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
		atomic_store(&s->stopping, true);
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
	atomic_store(&s->stopping, true);
	if (s->thread_started && !atomic_load(&s->thread_done)) {
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

static napi_value set_number(napi_env env, napi_value obj, const char *name, double value)
{
	napi_value v;

	NAPI_OK(napi_create_double(env, value, &v));
	NAPI_OK(napi_set_named_property(env, obj, name, v));
	return obj;
}

/* counters(session) -> {ringbufFull, stackLost, stackSkipped, unkeyedSent, unkeyedReceived, overBudget, unkeyedLoss,
 * recursionMisses} summed over CPUs. */
static napi_value session_counters(napi_env env, napi_callback_info info)
{
	napi_value argv[1], result;
	__u64 sums[TCPWHY_CNT_MAX] = {0}, misses = 0;

	struct session *s = session_args(env, info, argv, 1);
	if (!s)
		return NULL;
	if (s->closed)
		return throw_errno(env, EBADF, "session closed");
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(__u64));
	if (!vals)
		return throw_errno(env, ENOMEM, "out of memory");
	int fd = bpf_map__fd(s->skel->maps.counters);
	for (__u32 k = 0; k < TCPWHY_CNT_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			sums[k] += vals[c];
	}
	free(vals);
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, s->skel->obj)
	{
		struct bpf_prog_info pi = {0};
		__u32 len = sizeof(pi);
		int pfd = bpf_program__fd(prog);
		if (pfd >= 0 && !bpf_obj_get_info_by_fd(pfd, &pi, &len))
			misses += pi.recursion_misses;
	}
	NAPI_OK(napi_create_object(env, &result));
	if (!set_number(env, result, "ringbufFull", (double)sums[TCPWHY_CNT_RINGBUF_FULL]) ||
	    !set_number(env, result, "stackLost", (double)sums[TCPWHY_CNT_STACK_LOST]) ||
	    !set_number(env, result, "stackSkipped", (double)sums[TCPWHY_CNT_STACK_SKIPPED]) ||
	    !set_number(env, result, "unkeyedSent", (double)sums[TCPWHY_CNT_UNKEYED_SENT]) ||
	    !set_number(env, result, "unkeyedReceived", (double)sums[TCPWHY_CNT_UNKEYED_RECEIVED]) ||
	    !set_number(env, result, "overBudget", (double)sums[TCPWHY_CNT_OVER_BUDGET]) ||
	    !set_number(env, result, "unkeyedLoss", (double)sums[TCPWHY_CNT_UNKEYED_LOSS]) ||
	    !set_number(env, result, "recursionMisses", (double)misses))
		return NULL;
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
	NAPI_OK(napi_get_value_uint32(env, argv[1], &id));
	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.stacks), &id, ips)) {
		NAPI_OK(napi_get_null(env, &result));
		return result;
	}
	NAPI_OK(napi_create_arraybuffer(env, sizeof(ips), &dst, &result));
	memcpy(dst, ips, sizeof(ips));
	return result;
}

/*
 * stormSwap(session) -> ArrayBuffer of the storm table of the interval that
 * ends: records of struct tcpwhy_storm_key then struct tcpwhy_storm_val, one
 * after the other. The programs count into the other table from now on; the
 * update of storm_now returns only once no program runs with the old one
 * (map-in-map updates wait for a grace period), so reading it now misses
 * nothing, and it is emptied for its next turn.
 */
static napi_value session_storm_swap(napi_env env, napi_callback_info info)
{
	napi_value argv[1], result;
	struct tcpwhy_storm_key key, next;
	const size_t rec = sizeof(struct tcpwhy_storm_key) + sizeof(struct tcpwhy_storm_val);
	__u32 zero = 0;
	size_t n = 0, cap;
	char *buf;
	void *dst;

	struct session *s = session_args(env, info, argv, 1);
	if (!s)
		return NULL;
	if (s->closed)
		return throw_errno(env, EBADF, "session closed");
	struct bpf_map *old = s->storm_b_current ? s->skel->maps.storm_b : s->skel->maps.storm_a;
	struct bpf_map *now = s->storm_b_current ? s->skel->maps.storm_a : s->skel->maps.storm_b;
	int old_fd = bpf_map__fd(old), now_fd = bpf_map__fd(now);
	/* an empty interval (no RST) costs no switch, so no grace period */
	if (bpf_map_get_next_key(old_fd, NULL, &next)) {
		NAPI_OK(napi_create_arraybuffer(env, 0, &dst, &result));
		return result;
	}
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.storm_now), &zero, &now_fd, BPF_ANY))
		return throw_errno(env, errno, "cannot switch storm tables");
	s->storm_b_current = !s->storm_b_current;
	cap = bpf_map__max_entries(old);
	buf = malloc(cap * rec + 1);
	if (!buf)
		return throw_errno(env, ENOMEM, "out of memory");
	/* no program writes the old table any more: walk it, then empty it */
	void *prev = NULL;
	while (n < cap && !bpf_map_get_next_key(old_fd, prev, &next)) {
		if (!bpf_map_lookup_elem(old_fd, &next, buf + n * rec + sizeof(key))) {
			memcpy(buf + n * rec, &next, sizeof(key));
			n++;
		}
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(old_fd, buf + i * rec);
	if (napi_failed(env, napi_create_arraybuffer(env, n * rec, &dst, &result), "napi_create_arraybuffer")) {
		free(buf);
		return NULL;
	}
	memcpy(dst, buf, n * rec);
	free(buf);
	return result;
}

/* unkeyed(session) -> [[netns, direction, count], ...]: RSTs counted without a storm key, per namespace. */
static napi_value session_unkeyed(napi_env env, napi_callback_info info)
{
	napi_value argv[1], result, row, v;
	__u64 key, next, count;
	uint32_t n = 0;
	void *prev = NULL;

	struct session *s = session_args(env, info, argv, 1);
	if (!s)
		return NULL;
	if (s->closed)
		return throw_errno(env, EBADF, "session closed");
	int fd = bpf_map__fd(s->skel->maps.unkeyed);
	NAPI_OK(napi_create_array(env, &result));
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (!bpf_map_lookup_elem(fd, &next, &count)) {
			double cells[3] = {(double)(next >> 8), (double)(next & 0xff), (double)count};
			NAPI_OK(napi_create_array_with_length(env, 3, &row));
			for (uint32_t i = 0; i < 3; i++) {
				NAPI_OK(napi_create_double(env, cells[i], &v));
				NAPI_OK(napi_set_element(env, row, i, v));
			}
			NAPI_OK(napi_set_element(env, result, n++, row));
		}
		key = next;
		prev = &key;
	}
	return result;
}

/* unlink(session): detaches the programs and keeps the maps, whose counts are then final. */
static napi_value session_unlink(napi_env env, napi_callback_info info)
{
	napi_value argv[1];

	struct session *s = session_args(env, info, argv, 1);
	if (!s)
		return NULL;
	for (int i = 0; i < s->nlinks; i++)
		bpf_link__destroy(s->links[i]);
	s->nlinks = 0;
	return NULL;
}

/* conn(session, key: Buffer of struct tcpwhy_conn_key) -> ArrayBuffer of struct tcpwhy_conn, or null. */
static napi_value session_conn(napi_env env, napi_callback_info info)
{
	napi_value argv[2], result;
	struct tcpwhy_conn c;
	void *data, *dst;
	size_t len;

	struct session *s = session_args(env, info, argv, 2);
	if (!s)
		return NULL;
	if (s->closed)
		return throw_errno(env, EBADF, "session closed");
	NAPI_OK(napi_get_buffer_info(env, argv[1], &data, &len));
	if (len != sizeof(struct tcpwhy_conn_key)) {
		(void)napi_throw_range_error(env, NULL, "conn(): the key is a struct tcpwhy_conn_key");
		return NULL;
	}
	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.conns), data, &c)) {
		NAPI_OK(napi_get_null(env, &result));
		return result;
	}
	NAPI_OK(napi_create_arraybuffer(env, sizeof(c), &dst, &result));
	memcpy(dst, &c, sizeof(c));
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
		{"stormSwap", NULL, session_storm_swap, NULL, NULL, NULL, napi_default, NULL},
		{"conn", NULL, session_conn, NULL, NULL, NULL, napi_default, NULL},
		{"unlink", NULL, session_unlink, NULL, NULL, NULL, napi_default, NULL},
		{"unkeyed", NULL, session_unkeyed, NULL, NULL, NULL, napi_default, NULL},
	};

	libbpf_set_print(log_libbpf);
	NAPI_OK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
