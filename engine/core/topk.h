/* topk.h: the engine's one top-k heap. SOUK_TOPK_DEFINE(name, T, CTX, AFTER) defines, static
 * inline in the including file, a bounded heap of T that keeps the k first of the elements offered
 * in the order AFTER describes, its root the last of those kept, so that a newcomer is compared
 * with one element:
 *   int AFTER(const CTX *ctx, const T *a, const T *b)  1 when a comes strictly after b; a total
 *                                                      order (ties broken, e.g. by docid), so the
 *                                                      kept set does not depend on arrival order
 *   int name_offer(const CTX *ctx, T *h, size_t *n, size_t k, T x)
 *       offers x to the heap h[0, *n) of at most k elements (h has room for k); returns 1 when
 *       the heap is full after the offer and x went in (its last element, the threshold, may have
 *       changed), else 0. k may be 0 (nothing is kept).
 *   void name_down(const CTX *ctx, T *h, size_t n, size_t i)
 *       restores the heap below i after h[i] changed.
 * The kept elements come out in heap order; the caller sorts them. The query layer's top k
 * (engine/query/topk.c) and browse (engine/query/browse.c) use it; AFTER is a static function the
 * compiler inlines, so the heap costs what a hand-written one does. */
#ifndef SOUK_CORE_TOPK_H
#define SOUK_CORE_TOPK_H

#include <stddef.h>

#define SOUK_TOPK_DEFINE(name, T, CTX, AFTER)                                                      \
    static inline void name##_down(const CTX *ctx, T *h, size_t n, size_t i)                       \
    {                                                                                              \
        for (;;) {                                                                                 \
            size_t l = 2 * i + 1, r = l + 1, m = i;                                                \
            if (l < n && AFTER(ctx, &h[l], &h[m]))                                                 \
                m = l;                                                                             \
            if (r < n && AFTER(ctx, &h[r], &h[m]))                                                 \
                m = r;                                                                             \
            if (m == i)                                                                            \
                return;                                                                            \
            T t_ = h[i];                                                                           \
            h[i] = h[m];                                                                           \
            h[m] = t_;                                                                             \
            i = m;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    static inline int name##_offer(const CTX *ctx, T *h, size_t *n, size_t k, T x)                 \
    {                                                                                              \
        if (*n < k) {                                                                              \
            size_t i = (*n)++;                                                                     \
            h[i] = x;                                                                              \
            while (i > 0 && AFTER(ctx, &h[i], &h[(i - 1) / 2])) {                                  \
                T t_ = h[i];                                                                       \
                h[i] = h[(i - 1) / 2];                                                             \
                h[(i - 1) / 2] = t_;                                                               \
                i = (i - 1) / 2;                                                                   \
            }                                                                                      \
            return *n == k;                                                                        \
        }                                                                                          \
        if (k == 0 || !AFTER(ctx, &h[0], &x))                                                      \
            return 0;                                                                              \
        h[0] = x;                                                                                  \
        name##_down(ctx, h, *n, 0);                                                                \
        return 1;                                                                                  \
    }

#endif
