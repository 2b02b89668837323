// oneDNN 3 C API (the official build with GNU OpenMP threading that scripts/install-deps.sh
// unpacks into .deps/onednn), plus the few libgomp entry points the engine uses: its own
// element-wise loops run on the same OpenMP threads as oneDNN, so the two never compete for the
// cores (a second thread pool would fight OpenMP's spinning workers).
#if !__has_include(<oneapi/dnnl/dnnl.h>)
#error "oneDNN 3 headers not found: run scripts/install-deps.sh (it unpacks oneDNN 3.2 into .deps/onednn)"
#endif
#include <oneapi/dnnl/dnnl.h>
#if DNNL_VERSION_MAJOR < 3
#error "sdcluster needs oneDNN 3 (found an older dnnl.h): run scripts/install-deps.sh"
#endif
#include <malloc.h>
void omp_set_num_threads(int);
int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
int omp_in_parallel(void);
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
