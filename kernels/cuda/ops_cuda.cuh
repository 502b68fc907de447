// ops_cuda.cuh: the host launchers of the CUDA backend, one group per file.
// Same signatures and conventions as the Backend table in kernels/backend.h;
// every pointer is device memory.
#ifndef TB_OPS_CUDA_CUH
#define TB_OPS_CUDA_CUH

#include "cuda_common.cuh"

// linear.cu
void linear_forward_cuda(float *out, int ld_out, const float *inp, int ld_inp,
                         const float *weight, const float *bias, int N, int C, int OC,
                         int w_in_out);
void linear_backward_cuda(float *dinp, int ld_dinp, float *dweight, float *dbias,
                          const float *dout, int ld_dout, const float *inp, int ld_inp,
                          const float *weight, int N, int C, int OC, int w_in_out);
// embedding.cu
void embedding_forward_cuda(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                            int B, int T, int C);
void embedding_backward_cuda(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                             int B, int T, int C);
// layernorm.cu
void layernorm_forward_cuda(float *out, float *mean, float *rstd, const float *inp,
                            const float *weight, const float *bias, int N, int C, float eps);
void layernorm_backward_cuda(float *dinp, float *dweight, float *dbias, const float *dout,
                             const float *inp, const float *weight, const float *mean,
                             const float *rstd, int N, int C);
// rmsnorm.cu
void rmsnorm_forward_cuda(float *out, float *rstd, const float *inp, const float *weight, int N,
                          int C, float eps);
void add_rmsnorm_forward_cuda(float *sum, float *out, float *rstd, const float *a, const float *b,
                         const float *weight, int N, int C, float eps);
void rmsnorm_backward_cuda(float *dinp, float *dweight, const float *dout, const float *inp,
                           const float *weight, const float *rstd, int N, int C);
// gelu.cu
void gelu_forward_cuda(float *out, const float *inp, size_t n);
void gelu_backward_cuda(float *dinp, const float *inp, const float *dout, size_t n);
// silu.cu
void silu_forward_cuda(float *out, int out_stride, const float *inp, int inp_stride, int n_rows,
                       int cols);
void silu_backward_cuda(float *dinp, int dinp_stride, const float *inp, int inp_stride,
                        const float *dout, int n_rows, int cols);
// elementwise.cu
void add_cuda(float *out, const float *a, const float *b, size_t n);
void accumulate_cuda(float *dst, const float *src, size_t n);
void scale_cuda(float *x, float s, size_t n);
// attention.cu
void attention_forward_cuda(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
void attention_backward_cuda(float *dqkv, float *scratch, const float *dout, const float *qkv,
                             const float *att, int B, int T, int C, int NH);
void attention_decode_cuda(float *out, float *k_cache, float *v_cache, const float *qkv,
                           const int32_t *pos, int n, int max_T, int C, int NH);
// crossentropy.cu
void crossentropy_forward_backward_cuda(float *losses, float *dlogits, const float *logits,
                                        const int32_t *targets, int N, int V, float dloss);
// optimizer.cu
double sum_squares_cuda(const float *g, size_t n);
void adamw_update_cuda(float *param, const float *grad, float *m, float *v, size_t n, float lr,
                       float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                       int t);
// conv1d.cu. The largest kernel its parameter-gradient kernel holds per thread.
enum { CONV1D_MAX_KERNEL_CUDA = 8 };
void conv1d_forward_cuda(float *out, const float *x, int x_stride, const float *x_prev,
                         const float *weight, const float *bias, int B, int L, int D, int K);
void conv1d_backward_cuda(float *dx, int dx_stride, float *dweight, float *dbias,
                          const float *dout, const float *x, int x_stride, const float *weight,
                          int B, int L, int D, int K);
void conv1d_silu_step_cuda(float *out, float *conv_state, const float *x, const float *weight,
                      const float *bias, int D, int K);
void conv1d_state_from_sequence_cuda(float *conv_state, const float *x, int x_stride, int B,
                                     int L, int D, int K);
// selective_scan_forward.cu, selective_scan_backward.cu, selective_scan_step.cu.
// The largest d_state the scan kernels support: 16 lanes x 4 states per channel.
enum { SELECTIVE_SCAN_MAX_DSTATE_CUDA = 64 };
void selective_scan_forward_cuda(const SelectiveScanParams *p);
void selective_scan_backward_cuda(const SelectiveScanParams *p);
size_t selective_scan_scratch_floats_cuda(const SelectiveScanParams *p);
void selective_scan_step_cuda(float *out, float *ssm_state, const float *u, const float *delta_raw,
                              const float *z, const float *Bt, const float *Ct,
                              const float *A_log, const float *D, const float *delta_bias,
                              int dim, int dstate);
// lstm.cu
void lstm_forward_cuda(const LstmParams *p);
void lstm_backward_cuda(const LstmParams *p);
size_t lstm_scratch_floats_cuda(const LstmParams *p);

#endif
