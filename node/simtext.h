/*
 * simtext — names and texts for `qiao sim gen`: towns, villages, grids,
 * residents, case titles and descriptions, outcomes, meeting topics, all
 * in Chinese and all synthetic (syllables and templates, no real people
 * or places), drawn from a seeded generator so a seed always gives the
 * same district.
 */
#ifndef QIAO_NODE_SIMTEXT_H
#define QIAO_NODE_SIMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* splitmix64: small, fast, and the same on every machine. */
typedef struct node_simrng {
	uint64_t s;
} node_simrng;

void node_simrng_seed(node_simrng *r, uint64_t seed, uint64_t stream);
uint64_t node_simrng_next(node_simrng *r);
/* Uniform in [0, n); 0 when n is 0. */
uint64_t node_simrng_below(node_simrng *r, uint64_t n);
/* True with probability per_mille / 1000. */
bool node_simrng_chance(node_simrng *r, unsigned per_mille);

/* A place name stem of two characters ("石溪"), into buf. */
void node_simtext_place(node_simrng *r, char *buf, size_t cap);
/* A person's name ("王建国"). */
void node_simtext_person(node_simrng *r, char *buf, size_t cap);
/* A mobile number of 11 digits. */
void node_simtext_phone(node_simrng *r, char *buf, size_t cap);
/* A resident ID number of 18 characters under a 6-digit district code,
 * with a valid check character. */
void node_simtext_id_no(node_simrng *r, const char *district, char *buf,
    size_t cap);
/* A unified social credit code of 18 characters. */
void node_simtext_credit(node_simrng *r, char *buf, size_t cap);

/* A case: category, title (naming parties a and b), description,
 * matter (family/shared/public) and source. */
typedef struct node_simcase {
	char category[64];
	char title[200];
	char description[400];
	const char *matter;
	const char *source;
} node_simcase;
void node_simtext_case(node_simrng *r, const char *a, const char *b,
    node_simcase *out);
/* Another category for a re-routing. */
const char *node_simtext_category(node_simrng *r);
/* What a resolution achieved. */
void node_simtext_result(node_simrng *r, char *buf, size_t cap);
/* A named body a case may be transferred to at a town or district. */
const char *node_simtext_body(node_simrng *r, bool district);
/* A meeting topic and decision for a level (grid, community, town). */
void node_simtext_meeting(node_simrng *r, const char *level,
    const char *place, char *topic, size_t tcap, char *decision,
    size_t dcap);

#endif
