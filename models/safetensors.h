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
// data region exactly (no overlap, no gap, nothing left over). Every error
// names the file and, where there is one, the tensor.
#ifndef TB_SAFETENSORS_H
#define TB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

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
} SafeTensors;

// Opens and validates a file. NULL with tb_error() set (naming the file and
// the tensor) on any problem.
SafeTensors *st_open(const char *path);
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

// Writes the tensors, in the given order, with __metadata__ {"format": "pt"},
// atomically (a temporary file renamed over path). Names must be unique.
int st_write(const char *path, const StWriteTensor *tensors, int n);

#endif
