package dev.iteralite.nn;

import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;

/**
 * The recurrent inference state of one {@link MambaMixer} for {@code batch} sequences (kernel-facts
 * §1.5): the convolution window {@link #conv()} [batch, K, E] (the last K pre-conv inputs x, oldest
 * first: the token-major layout of the activations) and the SSM state {@link #ssm()} [batch, E, N].
 * Its size does not depend on the sequence length.
 *
 * <p>It also holds a snapshot of A = -exp(A_log) taken when the state is created, and the work
 * buffers of one decoding step, so that {@link MambaMixer#step} allocates nothing: decode with
 * frozen parameters ({@link MambaMixer#prefill} refreshes the snapshot; otherwise create a new
 * state after changing A_log). Native memory; close it.
 */
public final class MambaState implements AutoCloseable {
  private final MambaMixer owner;
  private final int batch;
  private final Arena arena;
  private final Tensor conv;
  private final Tensor ssm;
  private final Tensor a;
  // step work buffers: xz [B, 2E], xc / u / delta / y [B, E], xdbl [B, R + 2N]
  final Tensor xz;
  final Tensor xc;
  final Tensor u;
  final Tensor xdbl;
  final Tensor delta;
  final Tensor y;
  // Views of the work buffers and the step's scan operands, made once (a step allocates nothing).
  Tensor x;
  Tensor z;
  Tensor dtLow;
  dev.iteralite.backend.SelectiveScan stepScan;

  MambaState(MambaMixer owner, int batch, DType dtype, Tensor a) {
    MambaConfig c = owner.config();
    if (batch < 1) {
      throw new IllegalArgumentException("MambaState: batch must be >= 1, got " + batch);
    }
    this.owner = owner;
    this.batch = batch;
    this.arena = Arena.open();
    long e = c.dInner();
    this.conv = arena.allocate(dtype, batch, c.dConv(), e);
    this.ssm = arena.allocate(dtype, batch, e, c.dState());
    this.a = arena.allocate(dtype, e, c.dState());
    this.a.copyFrom(a.toDoubleArray());
    this.xz = arena.allocate(dtype, batch, 2 * e);
    this.xc = arena.allocate(dtype, batch, e);
    this.u = arena.allocate(dtype, batch, e);
    this.xdbl = arena.allocate(dtype, batch, c.dtRank() + 2L * c.dState());
    this.delta = arena.allocate(dtype, batch, e);
    this.y = arena.allocate(dtype, batch, e);
    reset();
  }

  /** Zeroes the window and the SSM state (an empty prompt). */
  public void reset() {
    conv.fill(0.0);
    ssm.fill(0.0);
  }

  public int batch() {
    return batch;
  }

  /** The mixer this state belongs to. */
  public MambaMixer owner() {
    return owner;
  }

  /** Convolution window [batch, K, E]. */
  public Tensor conv() {
    return conv;
  }

  /** SSM state [batch, E, N]. */
  public Tensor ssm() {
    return ssm;
  }

  /** The snapshot of A = -exp(A_log) [E, N] used by the steps. */
  public Tensor a() {
    return a;
  }

  @Override
  public void close() {
    arena.close();
  }
}
