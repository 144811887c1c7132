/* LINK: relayd/frame.c */
/*
 * fuzz_relayd_frame.c: libFuzzer target for relayd's classification of relay
 * messages (the first thing untrusted relay bytes meet). Properties beyond
 * "no crash, no leak": the result is a known drop reason or a frame; an
 * EVENT frame carries a parsed event; the raw event text relayd would splice
 * into an NDJSON line is one JSON object, without control bytes (so no
 * newline), valid UTF-8, inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../relayd/relayd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_raw(const struct frame *f, const char *buf, size_t len)
{
	cJSON *o;
	size_t i;

	if (f->raw == NULL)
		return;
	if (f->raw < buf || f->raw + f->rawlen > buf + len || f->rawlen < 2)
		abort();
	for (i = 0; i < f->rawlen; i++)
		if ((unsigned char)f->raw[i] < 0x20)
			abort();
	if (!utf8_valid(f->raw, f->rawlen))
		abort();
	if ((o = cJSON_ParseWithLength(f->raw, f->rawlen)) == NULL || !cJSON_IsObject(o))
		abort();
	cJSON_Delete(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame f;
	char *buf;
	int r;

	if (size > 300000)
		return 0;
	/* An exact-size copy: ASan catches any read past the message. */
	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	r = frame_parse(&f, buf, size);
	if (r != -1) {
		if (r < 0 || r >= DROP_NREASONS)
			abort();
	} else {
		if (f.type == FR_EVENT && (f.event == NULL || f.sub == NULL))
			abort();
		if (f.type == FR_EVENT)
			check_raw(&f, buf, size);
		frame_free(&f);
	}
	free(buf);
	return 0;
}
