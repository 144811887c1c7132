/*
 * prices.c: prices_get and prices_set (control.sock and the pane's
 * socket). A change is checked with conf.c's own parsing and ranges, applied
 * to the running config at once (jobd/price.c reads jd->conf), written to
 * state_dir/overrides.conf (temp file, fsync, rename, fsync of the
 * directory) so a restart keeps it, announced again (NIP-89 carries the
 * prices) and logged, one line per key.
 *
 * {"op":"prices_set","prices":{"min_price_sats":5,...}}: "prices" holds the
 * keys conf_override_keys() names; model_prices (a string, NAME=MIN/PER1K
 * ..., checked by common/model.c's parser) is one of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "srv.h"

#define PRICES_MAX_KEYS	16

static cJSON *
prices_json(struct jobd *jd)
{
	cJSON *o = cJSON_CreateObject(), *p, *ed;
	const char *const *k;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "op", "prices");
	p = cJSON_AddObjectToObject(o, "prices");
	cJSON_AddNumberToObject(p, "min_price_sats", jd->conf.min_price_sats);
	cJSON_AddNumberToObject(p, "price_per_1k_tokens", jd->conf.price_per_1k_tokens);
	cJSON_AddStringToObject(p, "model_prices",
	    jd->conf.model_prices != NULL ? jd->conf.model_prices : "");
	ed = cJSON_AddArrayToObject(o, "editable");
	for (k = conf_override_keys(); *k != NULL; k++)
		cJSON_AddItemToArray(ed, cJSON_CreateString(*k));
	return o;
}

void
prices_op_get(struct srv_client *c, const cJSON *m, void *arg)
{
	ctl_reply(c, prices_json(arg));
}

/*
 * A JSON value as the text the config file would hold; -1 if not a number
 * or string (model_prices is a string; conf.c checks each key's type).
 */
static int
prices_value_text(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsNumber(v))
		return (size_t)snprintf(buf, len, "%.17g", v->valuedouble) >= len ? -1 : 0;
	if (cJSON_IsString(v))
		return (size_t)snprintf(buf, len, "%s", v->valuestring) >= len ? -1 : 0;
	return -1;
}

/* Write every override key's current value to overrides.conf, atomically. */
static int
prices_persist(struct jobd *jd, char *err, size_t errlen)
{
	char path[CONF_MAX_STR + 32], tmp[CONF_MAX_STR + 48];
	const char *const *k;
	FILE *f;
	int fd, dfd, ok;

	if (conf_overrides_path(&jd->conf, path, sizeof(path)) == -1 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "state_dir too long");
		return -1;
	}
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644)) == -1 ||
	    (fchmod(fd, 0644) == -1) || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "overrides.conf.tmp: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	fputs("# Written by jobd (prices_set, the pane): read after dvm.conf.\n", f);
	for (k = conf_override_keys(); *k != NULL; k++) {
		fprintf(f, "%s = ", *k);
		conf_print(&jd->conf, *k, f);
	}
	ok = fflush(f) == 0 && fsync(fd) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) == -1) {
		snprintf(err, errlen, "overrides.conf: %s", strerror(errno));
		unlink(tmp);
		return -1;
	}
	if ((dfd = open(jd->conf.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Check every key and value on a scratch config before touching the live one. */
static int
prices_check(const cJSON *prices, char *err, size_t errlen)
{
	struct conf scratch;
	const cJSON *v;
	char text[CONF_MAX_STR + 1];
	int n = 0, rc = 0;

	memset(&scratch, 0, sizeof(scratch));
	cJSON_ArrayForEach(v, prices) {
		if (++n > PRICES_MAX_KEYS) {
			snprintf(err, errlen, "too many keys");
			rc = -1;
			break;
		}
		if (prices_value_text(v, text, sizeof(text)) == -1) {
			snprintf(err, errlen, "%s: want a number or a string", v->string);
			rc = -1;
			break;
		}
		if ((rc = conf_override_set(&scratch, v->string, text, err, errlen)) == -1)
			break;
	}
	if (rc == 0 && n == 0) {
		snprintf(err, errlen, "prices: nothing to change");
		rc = -1;
	}
	conf_free(&scratch);
	return rc;
}

void
prices_op_set(struct srv_client *c, const cJSON *m, void *arg)
{
	struct jobd *jd = arg;
	const cJSON *prices = cJSON_GetObjectItemCaseSensitive(m, "prices"), *v;
	char err[512], text[CONF_MAX_STR + 1], msg[600], *old_mp;
	struct conf old = jd->conf;

	if (!cJSON_IsObject(prices)) {
		ctl_error(c, "prices_set wants \"prices\": {key: value}");
		return;
	}
	if (prices_check(prices, err, sizeof(err)) == -1) {
		log_warnx("prices_set refused: %s", err);
		ctl_error(c, err);
		return;
	}
	/* old's string is freed by conf_override_set: keep a copy to compare and restore. */
	if ((old_mp = strdup(jd->conf.model_prices != NULL ? jd->conf.model_prices : "")) == NULL) {
		ctl_error(c, "out of memory");
		return;
	}
	cJSON_ArrayForEach(v, prices)
		if (prices_value_text(v, text, sizeof(text)) == 0)
			conf_override_set(&jd->conf, v->string, text, err, sizeof(err));
	if (prices_persist(jd, err, sizeof(err)) == -1) {
		/* Not kept, so not applied: the running DVM matches what a restart would do. */
		jd->conf.min_price_sats = old.min_price_sats;
		jd->conf.price_per_1k_tokens = old.price_per_1k_tokens;
		conf_override_set(&jd->conf, "model_prices", old_mp, msg, sizeof(msg));
		free(old_mp);
		log_warnx("prices_set: cannot write the overrides: %s; nothing changed", err);
		snprintf(msg, sizeof(msg), "cannot save: %s", err);
		ctl_error(c, msg);
		return;
	}
	if (old.min_price_sats != jd->conf.min_price_sats)
		log_info("prices: min_price_sats %d -> %d", old.min_price_sats,
		    jd->conf.min_price_sats);
	if (old.price_per_1k_tokens != jd->conf.price_per_1k_tokens)
		log_info("prices: price_per_1k_tokens %g -> %g", old.price_per_1k_tokens,
		    jd->conf.price_per_1k_tokens);
	if (strcmp(old_mp, jd->conf.model_prices) != 0)
		log_info("prices: model_prices \"%s\" -> \"%s\"", old_mp, jd->conf.model_prices);
	free(old_mp);
	store_apply(jd);	/* the per-model table price_of reads */
	if (jd->online)
		publish_announce(jd);
	ctl_reply(c, prices_json(jd));
}
