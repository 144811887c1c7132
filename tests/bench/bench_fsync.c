/*
 * bench_fsync: the durability limit. The p50 and p99 of one 4 KB pwrite
 * plus fdatasync on the file system of DIR (argv[1]; jobd's state_dir lives
 * on the same one in bench.mjs), over N rounds (argv[2], default 300), as
 * SQLite's synchronous=FULL commit pays at least once. Prints one line:
 *   fdatasync_p50_us N p99_us N
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	int n = argc > 2 ? atoi(argv[2]) : 300, fd;
	char path[4096], buf[4096];
	double *t;

	if (n < 10 || n > 100000 ||
	    snprintf(path, sizeof(path), "%s/bench_fsync.XXXXXX", dir) >= (int)sizeof(path))
		return 100;
	if ((t = calloc((size_t)n, sizeof(*t))) == NULL || (fd = mkstemp(path)) == -1)
		return 111;
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < n; i++) {
		double t0 = usec();

		/* A new page each round, as a WAL append is, within 1 MB. */
		if (pwrite(fd, buf, sizeof(buf), (off_t)(i % 256) * 4096) != (ssize_t)sizeof(buf) ||
		    fdatasync(fd) == -1) {
			unlink(path);
			return 111;
		}
		t[i] = usec() - t0;
	}
	unlink(path);
	close(fd);
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("fdatasync_p50_us %.0f p99_us %.0f\n", t[n / 2], t[n * 99 / 100]);
	free(t);
	return 0;
}
