/* bg.c: the server's background thread for the behaviour-event store (docs/api.md): it runs
 * erasure jobs (souk_erase_run) when DELETE /v1/users/{id} queues one, at start (so a job a crash
 * interrupted resumes) and at every sweep, and the retention sweep (souk_events_sweep) every
 * retention.sweep_interval_s seconds, the first at start; and it drains the queue of search
 * events (privacy.c) whenever a search joins an empty one. An erasure recomputes the
 * recommenders' neighbour lists (souk_recs_refresh) before its jobs report completed; their
 * periodic refresh is the recommenders' own thread (engine/recs/refresh.c). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/recs.h"
#include "souk/souk.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

typedef struct sk_bg {
    sk_server_state *st;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop, wake, flush;
    uint32_t interval_s;
} sk_bg;

static void run_erasures(sk_bg *bg)
{
    char err[512];
    int n = souk_erase_run(bg->st->events, sk_now_ms(), err, sizeof err);
    if (n < 0)
        fprintf(stderr, "souk-server: erasure: %s (retried at the next job or sweep)\n", err);
    else if (n > 0)
        fprintf(stderr, "souk-server: erasure: %d job%s completed\n", n, n == 1 ? "" : "s");
}

/* souk_erase_run's hook (souk_events_on_erased): the recommenders' neighbour lists and
 * snapshot recomputed without the erased users before their jobs report completed. */
static void erased(void *arg)
{
    sk_server_state *st = arg;
    int rc = souk_recs_refresh(st->recs, sk_now_ms(), NULL);
    if (rc)
        fprintf(stderr, "souk-server: erasure: the recommenders' lists: %s\n", souk_strerror(rc));
}

static void run_sweep(sk_bg *bg)
{
    char err[512];
    souk_sweep_stats ss = {0};
    if (souk_events_sweep(bg->st->events, sk_now_ms(), &ss, err, sizeof err))
        fprintf(stderr, "souk-server: retention sweep: %s\n", err);
    else if (ss.events || ss.impressions || ss.history)
        fprintf(stderr,
                "souk-server: retention sweep: %llu events, %llu impressions, %llu search "
                "history entries expired\n",
                (unsigned long long)ss.events, (unsigned long long)ss.impressions,
                (unsigned long long)ss.history);
}

static void *bg_main(void *arg)
{
    sk_bg *bg = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next); /* the first sweep at once */
    int jobs = 1;                          /* resume what a crash left */
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int sweep =
            now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec);
        sk_events_flush(bg->st->events);
        if (jobs || sweep)
            run_erasures(bg);
        if (sweep) {
            run_sweep(bg);
            clock_gettime(CLOCK_MONOTONIC, &next);
            next.tv_sec += bg->interval_s;
        }
        pthread_mutex_lock(&bg->lock);
        while (!bg->stop && !bg->wake && !bg->flush) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > next.tv_sec ||
                (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec))
                break;
            pthread_cond_timedwait(&bg->cond, &bg->lock, &next);
        }
        int stop = bg->stop;
        jobs = bg->wake;
        bg->wake = bg->flush = 0;
        pthread_mutex_unlock(&bg->lock);
        if (stop) {
            sk_events_flush(bg->st->events);
            break;
        }
    }
    return NULL;
}

int sk_bg_start(sk_server_state *st, uint32_t interval_s)
{
    sk_bg *bg = souk_calloc(1, sizeof *bg);
    if (!bg)
        return SOUK_ENOMEM;
    bg->st = st;
    bg->interval_s = interval_s ? interval_s : 3600;
    if (st->recs)
        souk_events_on_erased(st->events, erased, st);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&bg->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&bg->lock, NULL);
    if (pthread_create(&bg->thread, NULL, bg_main, bg)) {
        pthread_cond_destroy(&bg->cond);
        pthread_mutex_destroy(&bg->lock);
        souk_free(bg);
        return SOUK_EIO;
    }
    st->bg = bg;
    return 0;
}

void sk_bg_wake(sk_server_state *st)
{
    sk_bg *bg = st->bg;
    if (!bg)
        return;
    pthread_mutex_lock(&bg->lock);
    bg->wake = 1;
    pthread_cond_signal(&bg->cond);
    pthread_mutex_unlock(&bg->lock);
}

void sk_bg_flush(sk_server_state *st)
{
    sk_bg *bg = st->bg;
    if (!bg)
        return;
    pthread_mutex_lock(&bg->lock);
    bg->flush = 1;
    pthread_cond_signal(&bg->cond);
    pthread_mutex_unlock(&bg->lock);
}

void sk_bg_stop(sk_server_state *st)
{
    sk_bg *bg = st->bg;
    if (!bg)
        return;
    pthread_mutex_lock(&bg->lock);
    bg->stop = 1;
    pthread_cond_signal(&bg->cond);
    pthread_mutex_unlock(&bg->lock);
    pthread_join(bg->thread, NULL);
    pthread_cond_destroy(&bg->cond);
    pthread_mutex_destroy(&bg->lock);
    souk_free(bg);
    st->bg = NULL;
}
