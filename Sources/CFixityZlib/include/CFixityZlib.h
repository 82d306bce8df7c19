#ifndef CFIXITYZLIB_H
#define CFIXITYZLIB_H

/* zlib for OCI layers, in its own module so only the OCI target links libz. */
#include <stddef.h>

/// A gzip stream (zlib) in either direction, for OCI layers. Deflate writes a fixed header (mtime
/// 0, no name, OS 3) so the same input and level give the same bytes.
typedef struct fixity_gzip fixity_gzip;
/// NULL when zlib cannot allocate.
fixity_gzip *fixity_gzip_deflater(int level);
fixity_gzip *fixity_gzip_inflater(void);
/// One step: consumes up to `in_len` bytes of `in`, writes up to `out_cap` bytes to `out`, reports
/// both; `finish` (deflate only) flushes the end of the stream. Returns 1 when the stream ended
/// (deflate: all output written; inflate: the gzip trailer was read and checked), 0 to continue,
/// -1 on corrupt input or a zlib error (message from fixity_gzip_error).
int fixity_gzip_step(fixity_gzip *z, const void *in, size_t in_len, size_t *consumed, void *out, size_t out_cap, size_t *produced, int finish);
const char *fixity_gzip_error(fixity_gzip *z);
void fixity_gzip_free(fixity_gzip *z);

#endif
