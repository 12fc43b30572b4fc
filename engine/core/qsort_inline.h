/* qsort_inline.h: an introsort-free quicksort whose comparison is inlined, for the indexer's hot
 * sorts (glibc's qsort_r is a merge sort through a function pointer, with a temporary copy).
 *
 *   SOUK_QSORT_DEFINE(name, T, CTX, LESS)
 *
 * defines `static void name(CTX ctx, T *v, size_t n)`, sorting v[0, n) ascending by
 * LESS(ctx, a, b), a macro or inline function taking the context and two T values and telling
 * whether a sorts before b. Median-of-three pivots, recursion into the smaller part only (depth
 * at most log2 n), insertion sort below 16 elements. Not stable: for keys that never compare
 * equal (distinct terms) the order is the same as any other sort's. */
#ifndef SOUK_QSORT_INLINE_H
#define SOUK_QSORT_INLINE_H

#include <stddef.h>

#define SOUK_QSORT_DEFINE(name, T, CTX, LESS)                                                      \
    static void name(CTX ctx, T *v, size_t n)                                                      \
    {                                                                                              \
        while (n > 16) {                                                                           \
            size_t m = n / 2;                                                                      \
            T t;                                                                                   \
            if (LESS(ctx, v[m], v[0])) {                                                           \
                t = v[m];                                                                          \
                v[m] = v[0];                                                                       \
                v[0] = t;                                                                          \
            }                                                                                      \
            if (LESS(ctx, v[n - 1], v[m])) {                                                       \
                t = v[n - 1];                                                                      \
                v[n - 1] = v[m];                                                                   \
                v[m] = t;                                                                          \
                if (LESS(ctx, v[m], v[0])) {                                                       \
                    t = v[m];                                                                      \
                    v[m] = v[0];                                                                   \
                    v[0] = t;                                                                      \
                }                                                                                  \
            }                                                                                      \
            T pivot = v[m];                                                                        \
            size_t i = 0, j = n - 1;                                                               \
            for (;;) {                                                                             \
                while (LESS(ctx, v[i], pivot))                                                     \
                    i++;                                                                           \
                while (LESS(ctx, pivot, v[j]))                                                     \
                    j--;                                                                           \
                if (i >= j)                                                                        \
                    break;                                                                         \
                t = v[i];                                                                          \
                v[i] = v[j];                                                                       \
                v[j] = t;                                                                          \
                i++;                                                                               \
                j--;                                                                               \
            }                                                                                      \
            /* [0, j] <= pivot <= [j + 1, n): recurse into the smaller part. */                    \
            size_t left = j + 1;                                                                   \
            if (left < n - left) {                                                                 \
                name(ctx, v, left);                                                                \
                v += left;                                                                         \
                n -= left;                                                                         \
            } else {                                                                               \
                name(ctx, v + left, n - left);                                                     \
                n = left;                                                                          \
            }                                                                                      \
        }                                                                                          \
        for (size_t i = 1; i < n; i++) {                                                           \
            T x = v[i];                                                                            \
            size_t k = i;                                                                          \
            while (k > 0 && LESS(ctx, x, v[k - 1])) {                                              \
                v[k] = v[k - 1];                                                                   \
                k--;                                                                               \
            }                                                                                      \
            v[k] = x;                                                                              \
        }                                                                                          \
    }

#endif
