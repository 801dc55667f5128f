/* metrics_set.c — struct metric_set, see metrics.h. */
#include "agent/metrics.h"

#include <stdlib.h>
#include <string.h>

void metric_set_clear(struct metric_set *s)
{
	s->n = 0;
}

static struct metric *set_find(const struct metric_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->m[i].name, name) == 0)
			return (struct metric *)&s->m[i];
	return NULL;
}

int metric_set_put(struct metric_set *s, const char *name, double value)
{
	struct metric *m = set_find(s, name);
	size_t len = strlen(name);

	if (m) {
		m->value = value;
		return 0;
	}
	if (s->n >= METRICS_MAX || len == 0 || len >= METRIC_NAME_MAX)
		return -1;
	m = &s->m[s->n++];
	memcpy(m->name, name, len + 1);
	m->value = value;
	return 0;
}

int metric_set_get(const struct metric_set *s, const char *name, double *out)
{
	const struct metric *m = set_find(s, name);

	if (!m)
		return -1;
	*out = m->value;
	return 0;
}

static int cmp_metric(const void *a, const void *b)
{
	return strcmp(((const struct metric *)a)->name,
		      ((const struct metric *)b)->name);
}

void metric_set_sort(struct metric_set *s)
{
	qsort(s->m, s->n, sizeof(s->m[0]), cmp_metric);
}
