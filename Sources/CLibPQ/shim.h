#ifndef INLET_CLIBPQ_SHIM_H
#define INLET_CLIBPQ_SHIM_H
// pkg-config's `libpq` adds /usr/include/postgresql to the include path on Debian.
#include <libpq-fe.h>
#endif
