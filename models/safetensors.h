// safetensors.h: read and write the safetensors format (F32 tensors only).
//
// The format (huggingface/safetensors):
//   8 bytes    N, the header length, little-endian uint64
//   N bytes    a JSON object: for each tensor
//                "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}
//              and optionally "__metadata__": {"key": "string", ...}.
//              We pad it with spaces to a multiple of 8 bytes, as the Rust
//              crate does, so the data that follows is 8-byte aligned.
//   the rest   the tensor data; offsets are relative to the start of this region.
//
// The reader trusts nothing: header length against the file size, the JSON,
// each entry's dtype, shape, offsets (shape x 4 bytes == end - begin), ranges
// within the file, and, as the Rust crate requires, that the tensors tile the
// data region exactly (no overlap, no gap, nothing left over), and that no
// JSON object of the header holds a key twice. Every error names the file
// and, where there is one, the tensor or key.
//
// Checksum. The writer puts a 64-bit FNV-1a of the whole data region into
// __metadata__ under ST_CHECKSUM_KEY, as the string "fnv1a64:<16 hex digits>"
// (metadata values must be strings, so transformers and the Rust crate still
// load the file). The reader recomputes it on every open and refuses a file
// whose data does not match: one flipped bit anywhere in the tensors is an
// error naming the file, not a model with a wrong weight. Files without the
// key (the ecosystem's own, and tunebench's before it wrote one) are read
// unchecked; st_open reports whether a checksum was verified.
#ifndef TB_SAFETENSORS_H
#define TB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ST_MAX_DIMS 8
#define ST_CHECKSUM_KEY "tunebench.checksum"

typedef struct {
    char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t begin, end;  // byte offsets into the data region
    const float *data;  // numel floats (host memory, owned by the SafeTensors)
} StTensor;

typedef struct {
    char path[1024];
    int num_tensors;
    StTensor *tensors;  // in the order of their data offsets
    // "__metadata__" key/value pairs (both strings); may be empty.
    int num_metadata;
    char **metadata_keys, **metadata_values;
    float *data;        // the whole data region, (data_bytes / 4) floats
    size_t data_bytes;
    uint64_t data_checksum;  // FNV-1a of the data region, computed on open
    int checksum_verified;   // the header carried ST_CHECKSUM_KEY and it matched
} SafeTensors;

// Opens and validates a file. NULL with tb_error() set (naming the file and
// the tensor) on any problem.
SafeTensors *st_open(const char *path);
// The same from an open stream (which it does not close); path names it in
// errors. The fuzz target reads from memory through fmemopen.
SafeTensors *st_read(FILE *fp, const char *path);
// The tensor of that name, or NULL.
const StTensor *st_find(const SafeTensors *st, const char *name);
// The metadata value for a key, or NULL.
const char *st_metadata(const SafeTensors *st, const char *key);
void st_close(SafeTensors *st);

// One tensor to write: shape (ndim dims) and numel host floats.
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;
} StWriteTensor;

// Writes the tensors, in the given order, with __metadata__ {"format": "pt",
// ST_CHECKSUM_KEY: ...}, atomically (a temporary file renamed over path).
// Names must be unique. *checksum_out (if not NULL) receives the data's checksum.
int st_write(const char *path, const StWriteTensor *tensors, int n, uint64_t *checksum_out);
// "fnv1a64:<16 hex digits>", the metadata value of a checksum (out: 25 bytes).
void st_format_checksum(char out[32], uint64_t checksum);

#endif
