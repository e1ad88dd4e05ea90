#ifndef BATON_CLIBPQ_SHIM_H
#define BATON_CLIBPQ_SHIM_H
#include <libpq-fe.h>

#ifdef __linux__
#include <sys/prctl.h>
#else
#include <pthread.h>
#endif

/// Names the calling thread as `top -H`, `ps -L` and debuggers show it. Linux keeps
/// the first 15 bytes. Foundation's `Thread.name` does not reach the system thread on
/// Linux, and `prctl` is variadic, which Swift can't call.
static inline void baton_name_current_thread(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
#else
    pthread_setname_np(name);
#endif
}

#endif
