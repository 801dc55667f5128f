/*
 * mig_schema.h — the application schema (docs/MIGRATION.md, "Schema"):
 *
 *   <application name="test_tree">
 *     <characteristics>compute</characteristics>      compute|communication|data
 *     <estimated_time unit="s">120</estimated_time>    s|min|h
 *     <communication_volume unit="B">0</communication_volume>  B|KB|MB|GB|KiB|MiB|GiB
 *     <requires>
 *       <memory unit="MiB">64</memory>
 *       <arch>x86_64</arch> <arch>s390x</arch>         any number
 *       <software>libc</software>                      any number
 *     </requires>
 *     <binary arch="s390x">/opt/bin/test_tree</binary> any number
 *   </application>
 *
 * Every element is optional but <application>; unknown elements, repeated
 * scalars, bad numbers or units are errors naming FILE:LINE.  Parsed with
 * libxml2 (no network, no entity substitution, no DTD), at most
 * MIG_SCHEMA_MAX bytes.  Built with -DMIG_NO_LIBXML (the s390x cross
 * build) the parser only checks the size and that the text starts with '<';
 * the struct is then left empty.  The parsed struct is plain data with no
 * pointers; the registry uses it to place jobs.
 * Errors: -1 with "FILE:LINE: reason" in err.
 */
#ifndef RESCHED_MIG_SCHEMA_H
#define RESCHED_MIG_SCHEMA_H

#include <stddef.h>

#define MIG_SCHEMA_MAX (64 * 1024)
#define MIG_SCHEMA_LIST 16        /* arch / software / binary entries */
#define MIG_SCHEMA_WORD 64
#define MIG_SCHEMA_PATH 512

enum mig_charact { MIG_CH_UNKNOWN, MIG_CH_COMPUTE, MIG_CH_COMMUNICATION, MIG_CH_DATA };

struct mig_schema_binary {
	char arch[MIG_SCHEMA_WORD];
	char path[MIG_SCHEMA_PATH];
};

struct mig_schema {
	char name[MIG_SCHEMA_WORD];
	enum mig_charact characteristics;
	double estimated_time;        /* seconds, -1 unknown */
	double comm_volume;           /* bytes, -1 unknown */
	double memory;                /* bytes required, -1 unknown */
	char arch[MIG_SCHEMA_LIST][MIG_SCHEMA_WORD];
	size_t narch;
	char software[MIG_SCHEMA_LIST][MIG_SCHEMA_WORD];
	size_t nsoftware;
	struct mig_schema_binary binary[MIG_SCHEMA_LIST];
	size_t nbinary;
};

/* Parse `len` bytes of XML; `file` names it in errors. */
int mig_schema_parse(const char *xml, size_t len, const char *file,
		     struct mig_schema *out, char *err, size_t errlen);
/* Read and parse `path`; *xml (may be NULL) gets the text, caller frees. */
int mig_schema_load(const char *path, struct mig_schema *out, char **xml,
		    char *err, size_t errlen);
/* The binary for `arch`, or NULL. */
const char *mig_schema_binary(const struct mig_schema *s, const char *arch);
const char *mig_charact_name(enum mig_charact c);

#endif
