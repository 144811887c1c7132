/*
 * fuzz_conf.c: libFuzzer target for the config parser. The input is the
 * text of a dvm.conf, fed through conf_load_buffer (the same path as
 * conf_load after reading the file). A load either fails with a message
 * naming the input, or yields a struct whose every value is within the
 * table's limits and printable; then it must free cleanly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	extern char **environ;
	char name[128], **e;
	size_t n;

	/* Overrides from the fuzzing shell would mask the file's values. */
	for (e = environ; *e != NULL;) {
		if (strncmp(*e, "DVM_", 4) != 0) {
			e++;
			continue;
		}
		n = strcspn(*e, "=");
		snprintf(name, sizeof(name), "%.*s", (int)n, *e);
		unsetenv(name);
	}
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	return 0;
}

static void
check_list(const struct conf_list *l)
{
	size_t i;

	if (l->n > CONF_MAX_LIST)
		abort();
	for (i = 0; i < l->n; i++)
		if (l->v[i] == NULL || strlen(l->v[i]) > CONF_MAX_STR ||
		    l->v[i][0] == '\0' || strpbrk(l->v[i], " \t\n") != NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *const *k;
	struct conf c;
	char err[512];
	size_t i;

	err[0] = '\0';
	if (conf_load_buffer(&c, "fuzz.conf", (const char *)data, size, err,
	    sizeof(err)) == -1) {
		if (strncmp(err, "fuzz.conf:", 10) != 0 || strchr(err, '\n') != NULL)
			abort();
		return 0;
	}
	check_list(&c.relays);
	check_list(&c.infer_urls);
	if (c.njob_kinds == 0 || c.njob_kinds > CONF_MAX_LIST)
		abort();
	for (i = 0; i < c.njob_kinds; i++)
		if (c.job_kinds[i] < 5000 || c.job_kinds[i] > 5999)
			abort();
	if (c.name == NULL || c.about == NULL || c.model == NULL ||
	    c.secret_key_file == NULL || c.secret_key_file[0] == '\0' ||
	    strlen(c.about) > CONF_MAX_STR || strchr(c.about, '\n') != NULL)
		abort();
	if (c.top_p < 0 || c.top_p > 1 || c.max_tokens < 1)
		abort();
	if (c.wallet == WALLET_NONE && c.payment_mode != PAY_FREE)
		abort();
	for (k = conf_keys(); *k != NULL; k++)
		if (conf_print(&c, *k, devnull) != 0)
			abort();
	conf_free(&c);
	return 0;
}
