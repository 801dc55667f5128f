/* test_events.c — the events ring's limit on rejected-write lines. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs_events.h"
#include "test/unit/unit.h"

static int count(const char *buf, const char *what)
{
	int n = 0;

	for (const char *p = buf; (p = strstr(p, what)); p++)
		n++;
	return n;
}

TEST(events_rejected_writes_are_limited_per_uid)
{
	struct fs_events *ev = fs_events_new(1000);
	static char buf[65536];
	uint64_t pos = 0;
	char line[128];
	ssize_t n;

	CHECK(ev != NULL);
	for (int i = 0; i < 500; i++) {
		snprintf(line, sizeof(line), "T write-rejected path=sched/cooldown "
			 "uid=65534 reason=x%d", i);
		fs_events_push(ev, line);
		snprintf(line, sizeof(line), "T rule-rejected file=a.rule "
			 "uid=65534 reason=y%d", i);
		fs_events_push(ev, line);
	}
	fs_events_push(ev, "T write-rejected path=policy uid=0 reason=z");
	fs_events_push(ev, "T sched-changed name=mode value=auto uid=65534");
	n = fs_events_read(ev, &pos, buf, sizeof(buf) - 1, 1, NULL, NULL);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK_INT_EQ(count(buf, "uid=65534 reason="), FS_EVENTS_REJECT_MAX);
	CHECK_INT_EQ(count(buf, "uid=0 reason=z"), 1);
	CHECK_INT_EQ(count(buf, "sched-changed"), 1);
	CHECK_INT_EQ(count(buf, "suppressed="), 0);
	usleep(1100 * 1000);
	CHECK(fs_events_ready(ev, pos));      /* the window ended: a summary */
	n = fs_events_read(ev, &pos, buf, sizeof(buf) - 1, 1, NULL, NULL);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK(strstr(buf, " write-rejected uid=65534 suppressed=990\n") != NULL);
	CHECK_INT_EQ(count(buf, "suppressed="), 1);  /* uid 0 lost nothing */
	/* a new window lets lines through again */
	fs_events_push(ev, "T write-rejected path=policy uid=65534 reason=again");
	n = fs_events_read(ev, &pos, buf, sizeof(buf) - 1, 1, NULL, NULL);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK(strstr(buf, "reason=again") != NULL);
	fs_events_free(ev);
}
