/*
 * index.h: jobd's open jobs by id, beside the jd->jobs list (which keeps
 * their order). A fixed open-addressing table inside struct jobd: no
 * allocation, and a zeroed struct jobd is an empty index.
 */
#ifndef JOBD_INDEX_H
#define JOBD_INDEX_H

#define JOB_INDEX_SLOTS	4096	/* a power of two */
#define JOB_INDEX_MAX	3072	/* at most 3/4 full; the rest are in "unindexed" */

struct job;

struct job_index {
	struct job	*slot[JOB_INDEX_SLOTS];
	int		 n;
	int		 unindexed;	/* open jobs added while full: job_find scans for them */
};

void		 job_index_add(struct job_index *, struct job *);
void		 job_index_remove(struct job_index *, struct job *);
struct job	*job_index_get(const struct job_index *, const char *id);

#endif
