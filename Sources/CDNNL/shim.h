// oneDNN 2.6 C API (Debian libdnnl-dev), plus the OpenMP calls that set its thread count.
#include <dnnl.h>
void omp_set_num_threads(int);
int omp_get_max_threads(void);
