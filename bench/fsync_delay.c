/* An SD card's fsync, for bench/bench_pi.py: preloaded into the server (LD_PRELOAD), every
 * fsync and fdatasync returns FSYNC_DELAY_US microseconds after the real call did, as
 * strace's `inject=...:delay_exit` does, and appends one byte to FSYNC_LOG (the bench counts
 * the commits by it). Every other system call is left alone: under strace, the threads of a
 * Python server stopped in the tracer on their futex and socket calls too.
 *
 * The calls are served one at a time, the real call and its delay under one mutex: an SD card
 * flushes one request after another, so two fsyncs that overlap take 20 ms, not 10 ms each
 * side by side (strace's delay, per thread, would let them overlap and flatter any scheme
 * that syncs while another sync is in flight).
 *
 *     cc -shared -fPIC -O2 -o fsync_delay.so fsync_delay.c -ldl -lpthread
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t card = PTHREAD_MUTEX_INITIALIZER;

static void after_sync(void) {
    int saved = errno;  /* the real call's, for its caller */
    const char *log = getenv("FSYNC_LOG");
    if (log) {
        int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            (void)!write(fd, "s", 1);
            close(fd);
        }
    }
    const char *delay = getenv("FSYNC_DELAY_US");
    long us = delay ? atol(delay) : 0;
    struct timespec wait = {us / 1000000, (us % 1000000) * 1000};
    while (us > 0 && nanosleep(&wait, &wait) != 0) {
    }
    errno = saved;
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    pthread_mutex_lock(&card);
    int result = real(fd);
    after_sync();
    pthread_mutex_unlock(&card);
    return result;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    pthread_mutex_lock(&card);
    int result = real(fd);
    after_sync();
    pthread_mutex_unlock(&card);
    return result;
}
