"""What the PyTorch peer scripts (scripts/bench_torch_*.py) share."""
import ctypes


def openblas_core():
    """The kernels the system OpenBLAS (torch's BLAS here) picked, or "unknown"."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "unknown"
