/*
 * dedupe.c: a bounded set of event ids, O(1) lookup and insert, the oldest
 * id evicted when full. A ring of keys in insertion order plus an open-
 * addressing hash table (linear probing, backward-shift deletion) of ring
 * positions.
 *
 * Keys are the first 16 bytes of the id: ids are sha256 outputs, so a
 * collision needs ~2^64 work against a chosen id. The hash is keyed by a
 * random seed so a relay cannot grind ids into one probe chain.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "relayd.h"

#define KEY_LEN	16
#define DEDUPE_MAX_CAP	(16u * 1024 * 1024)

struct dedupe {
	size_t	 cap, count, head;	/* head: oldest ring entry */
	size_t	 mask;			/* table size - 1 */
	uint64_t seed;
	uint8_t	(*ring)[KEY_LEN];
	uint32_t *table;		/* ring index + 1; 0 = empty */
};

static size_t
dedupe_hash(const struct dedupe *d, const uint8_t *key)
{
	uint64_t x;

	memcpy(&x, key, sizeof(x));
	x ^= d->seed;
	x *= 0x9E3779B97F4A7C15ULL;
	x ^= x >> 29;
	return (size_t)x & d->mask;
}

/* Empty set of at most cap ids (1..16M). NULL on bad cap or no memory. */
struct dedupe *
dedupe_new(size_t cap)
{
	struct dedupe *d;
	size_t tsize = 1;

	if (cap == 0 || cap > DEDUPE_MAX_CAP)
		return NULL;
	while (tsize < cap * 2)
		tsize <<= 1;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->cap = cap;
	d->mask = tsize - 1;
	/* calloc: pages stay untouched (and out of RSS) until ids arrive. */
	d->ring = calloc(cap, KEY_LEN);
	d->table = calloc(tsize, sizeof(*d->table));
	if (d->ring == NULL || d->table == NULL) {
		dedupe_free(d);
		return NULL;
	}
	if (getrandom(&d->seed, sizeof(d->seed), GRND_NONBLOCK) != sizeof(d->seed))
		d->seed = (uint64_t)time(NULL) * 0x2545F4914F6CDD1DULL ^ (uint64_t)(uintptr_t)d;
	return d;
}

void
dedupe_free(struct dedupe *d)
{
	if (d == NULL)
		return;
	free(d->ring);
	free(d->table);
	free(d);
}

/* Table slot holding key, or the empty slot where it would go. */
static size_t
dedupe_slot(const struct dedupe *d, const uint8_t *key, int *found)
{
	size_t i = dedupe_hash(d, key);

	for (;;) {
		uint32_t v = d->table[i];
		if (v == 0) {
			*found = 0;
			return i;
		}
		if (memcmp(d->ring[v - 1], key, KEY_LEN) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & d->mask;
	}
}

int
dedupe_has(const struct dedupe *d, const uint8_t id[32])
{
	int found;

	dedupe_slot(d, id, &found);
	return found;
}

/* Remove the entry at table slot i, keeping every probe chain intact. */
static void
dedupe_delete_slot(struct dedupe *d, size_t i)
{
	size_t j = i;

	for (;;) {
		size_t k;

		j = (j + 1) & d->mask;
		if (d->table[j] == 0)
			break;
		k = dedupe_hash(d, d->ring[d->table[j] - 1]);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		d->table[i] = d->table[j];
		i = j;
	}
	d->table[i] = 0;
}

static void
dedupe_evict_oldest(struct dedupe *d)
{
	int found;
	size_t i = dedupe_slot(d, d->ring[d->head], &found);

	if (found)
		dedupe_delete_slot(d, i);
	d->head = (d->head + 1) % d->cap;
	d->count--;
}

/* Insert id (no-op if present); evicts the oldest id when full. */
void
dedupe_add(struct dedupe *d, const uint8_t id[32])
{
	int found;
	size_t i, pos;

	dedupe_slot(d, id, &found);
	if (found)
		return;
	if (d->count == d->cap)
		dedupe_evict_oldest(d);
	pos = (d->head + d->count) % d->cap;
	memcpy(d->ring[pos], id, KEY_LEN);
	i = dedupe_slot(d, id, &found);
	d->table[i] = (uint32_t)pos + 1;
	d->count++;
}

size_t
dedupe_count(const struct dedupe *d)
{
	return d->count;
}
