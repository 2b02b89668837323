// oneDNN 2.6 C API (Debian libdnnl-dev), plus the few libgomp entry points the engine uses:
// its own element-wise loops run on the same OpenMP threads as oneDNN, so the two never
// compete for the cores (a second thread pool would fight OpenMP's spinning workers).
#include <dnnl.h>
#include <malloc.h>
void omp_set_num_threads(int);
int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
