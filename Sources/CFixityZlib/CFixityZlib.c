#include "CFixityZlib.h"
#include <stdlib.h>
#include <zlib.h>

struct fixity_gzip {
    z_stream stream;
    gz_header header;
    int inflating;
};

fixity_gzip *fixity_gzip_deflater(int level) {
    fixity_gzip *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    // windowBits 15 + 16: a gzip wrapper; memLevel 8 and the default strategy, as gzip(1).
    if (deflateInit2(&z->stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) { free(z); return NULL; }
    z->header.time = 0;
    z->header.os = 3;
    deflateSetHeader(&z->stream, &z->header);
    return z;
}

fixity_gzip *fixity_gzip_inflater(void) {
    fixity_gzip *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    if (inflateInit2(&z->stream, 15 + 16) != Z_OK) { free(z); return NULL; }
    z->inflating = 1;
    return z;
}

int fixity_gzip_step(fixity_gzip *z, const void *in, size_t in_len, size_t *consumed, void *out, size_t out_cap, size_t *produced, int finish) {
    z->stream.next_in = (Bytef *)in;
    z->stream.avail_in = (uInt)in_len;
    z->stream.next_out = (Bytef *)out;
    z->stream.avail_out = (uInt)out_cap;
    int status = z->inflating ? inflate(&z->stream, Z_NO_FLUSH) : deflate(&z->stream, finish ? Z_FINISH : Z_NO_FLUSH);
    *consumed = in_len - z->stream.avail_in;
    *produced = out_cap - z->stream.avail_out;
    if (status == Z_STREAM_END) return 1;
    if (status == Z_OK || status == Z_BUF_ERROR) return 0;
    return -1;
}

const char *fixity_gzip_error(fixity_gzip *z) { return z->stream.msg ? z->stream.msg : "zlib error"; }

void fixity_gzip_free(fixity_gzip *z) {
    if (!z) return;
    if (z->inflating) inflateEnd(&z->stream); else deflateEnd(&z->stream);
    free(z);
}
