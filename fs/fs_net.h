/*
 * fs_net.h — reschedfs's agent listener (DESIGN §5, docs/MESSAGES.md).
 *
 * fs_net_start / fs_net_stop (declared in registry.h, called by fs_main)
 * run ONE network thread with one libevent loop: it accepts agents on
 * --listen with conn_listen (without --key only loopback peers; with
 * --key both sides authenticate and every frame is MAC'd), dispatches
 * each message into the registry (reg_host_hello, reg_host_update,
 * reg_proc_*, reg_migration_*), sends `welcome` + the rule set on hello,
 * and pushes the rule set to every agent when rules/ change.
 *
 * Soft state: a closed connection only calls reg_host_disconnected; the
 * host turns unavailable when its lease (3 intervals) runs out.  A second
 * connection announcing a host name that is already connected replaces
 * the first (an agent that restarted before its old socket timed out).
 *
 * Threads: the registry's hooks (ruleset_changed, migrate, abort) may be
 * called from any thread; they copy their request into a queue guarded by
 * fs_net's mutex and wake the loop through an eventfd.  Everything else
 * (connections, the host -> connection table's writers) lives on the
 * network thread.
 */
#ifndef RESCHED_FS_NET_H
#define RESCHED_FS_NET_H

#include "fs/registry.h"

#define FS_NET_HASH_SIZE 16384     /* buckets of the host -> conn table */

/* Connected agents right now (for tests and the bench). */
size_t fs_net_connected(void);

#endif
