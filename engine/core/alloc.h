/* alloc.h: what the engine's layers share about allocation beyond souk/souk.h. */
#ifndef SOUK_CORE_ALLOC_H
#define SOUK_CORE_ALLOC_H

/* Whether an allocation cJSON made on this thread failed since the last call (and clears the
 * mark). cJSON_Parse returns NULL both for bad JSON and when out of memory; a caller that clears
 * the mark before parsing tells the two apart, so that running out of memory is not reported as
 * malformed input. Works once souk_alloc_init pointed cJSON at souk_malloc. */
int souk__cjson_oom_take(void);

#endif
