#ifndef INLET_CZLIB_SHIM_H
#define INLET_CZLIB_SHIM_H
#include <zlib.h>

// inflateInit2 is a macro in zlib.h; Swift cannot call macros, so wrap it.
static inline int inlet_inflate_init_gzip(z_stream *stream) {
    // 15 window bits + 16: expect a gzip header and trailer.
    return inflateInit2(stream, 15 + 16);
}
#endif
