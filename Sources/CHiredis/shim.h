// C shim between Swift and hiredis 0.14 (Debian libhiredis-dev).
//
// Swift cannot call hiredis' variadic `redisCommand`, and reading or setting a few
// things (timeouts as `struct timeval`, the context's flags) is clearer as small
// inline helpers than as pointer juggling in Swift. Everything here is `static inline`
// so the module needs no compiled C target.
#ifndef TACK_CHIREDIS_SHIM_H
#define TACK_CHIREDIS_SHIM_H

#include <hiredis/hiredis.h>
#include <poll.h>
#include <errno.h>
#include <string.h>
#include <sys/time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/// Connects with a timeout given in milliseconds; returns NULL only when hiredis could
/// not allocate the context (otherwise check `context->err`).
static inline redisContext *tack_redis_connect(const char *host, int port, long timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return redisConnectWithTimeout(host, port, tv);
}

/// Sets SO_RCVTIMEO/SO_SNDTIMEO; 0 means "no timeout". Reads are guarded by poll() in
/// Swift, so this mostly bounds writes to a stalled server.
static inline int tack_redis_set_timeout(redisContext *c, long timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return redisSetTimeout(c, tv);
}

/// Appends an already RESP-encoded command (or several) to the output buffer.
/// The Swift side encodes on the caller's thread so the connection thread only copies bytes.
static inline int tack_redis_append_formatted(redisContext *c, const void *bytes, size_t len) {
    return redisAppendFormattedCommand(c, (const char *)bytes, len);
}

/// Writes the whole output buffer (the socket is blocking, so this loops until done or error).
static inline int tack_redis_flush(redisContext *c) {
    int done = 0;
    do {
        if (redisBufferWrite(c, &done) != REDIS_OK) return REDIS_ERR;
    } while (!done);
    return REDIS_OK;
}

/// Waits until `fd` is readable: 1 readable (or hung up: the read reports it), 0 timeout, -1 error.
/// EINTR counts as a timeout so callers re-check their deadline and flags.
static inline int tack_poll_readable(int fd, int timeout_ms) {
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    int r = poll(&p, 1, timeout_ms);
    if (r < 0) return errno == EINTR ? 0 : -1;
    return r > 0 ? 1 : 0;
}

/// Waits on two descriptors (the Redis socket and a wake-up pipe).
/// Returns a bit mask: 1 = first readable, 2 = second readable; 0 on timeout, -1 on error.
static inline int tack_poll_two(int fd1, int fd2, int timeout_ms) {
    struct pollfd p[2];
    p[0].fd = fd1; p[0].events = POLLIN; p[0].revents = 0;
    p[1].fd = fd2; p[1].events = POLLIN; p[1].revents = 0;
    int r = poll(p, 2, timeout_ms);
    if (r < 0) return errno == EINTR ? 0 : -1;
    int mask = 0;
    if (p[0].revents) mask |= 1;
    if (p[1].revents) mask |= 2;
    return mask;
}

/// Names the calling thread (Linux keeps 15 bytes), so `top -H` and gdb show which thread is
/// which Redis connection. pthread_setname_np needs _GNU_SOURCE; prctl does not.
static inline void tack_set_thread_name(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
#else
    (void)name;
#endif
}

/// The element `i` of an array reply.
static inline redisReply *tack_reply_element(const redisReply *r, size_t i) {
    return r->element[i];
}

#endif
