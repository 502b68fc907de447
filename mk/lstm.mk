# mk/lstm.mk: LSTM-specific build settings and targets.

# The cell's sigmoid and tanh compute in whole vectors (kernels/cpu/vec16.h)
# with vec_math.h's scalar tails: the same flags as the selective scan
# (mk/mamba.mk says why; they change speed and rounding, never determinism).
%/kernels/cpu/lstm.o: CFLAGS += -fno-trapping-math -ffp-contract=fast
