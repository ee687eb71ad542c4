package dev.iteralite.backend;

import dev.iteralite.tensor.Tensor;

/**
 * The operands of a Mamba-1 selective scan (kernel-facts §1.2), token-major: {@code batch}
 * sequences of L tokens are {@code batch * L} rows, row {@code b * L + t} holding token t of
 * sequence b, exactly as a {@code Linear} layer produces them.
 *
 * <ul>
 *   <li>{@code u}, {@code delta}, {@code z}: [batch * L, E] (row-strided views allowed, e.g. column
 *       slices of in_proj's output); {@code delta} is the raw delta, before bias and softplus;
 *   <li>{@code a}: A [E, N] (the negative decay rates, {@code -exp(A_log)}), contiguous;
 *   <li>{@code b}, {@code c}: [batch * L, N] (column slices of x_proj's output are fine);
 *   <li>{@code d} [E], {@code z}, {@code deltaBias} [E]: optional (null: the term is absent);
 *   <li>{@code deltaSoftplus}: delta = softplus(delta + deltaBias) (identity above 20);
 *   <li>{@code chunk}: the forward saves the state every {@code chunk} tokens; the backward
 *       recomputes the states inside a chunk from them (memory O(batch * ceil(L/chunk) * E * N)).
 * </ul>
 *
 * For a decoding step ({@link Backend#selectiveScanStep}) the rows are the batch (L = 1) and
 * {@code batch} must equal the number of rows.
 */
public record SelectiveScan(
    int batch,
    Tensor u,
    Tensor delta,
    Tensor a,
    Tensor b,
    Tensor c,
    Tensor d,
    Tensor z,
    Tensor deltaBias,
    boolean deltaSoftplus,
    int chunk) {

  /** Default tokens per saved state: 64 keeps the backward's recompute buffers in L2. */
  public static final int DEFAULT_CHUNK = 64;

  /** Largest d_state the kernels accept. */
  public static final int MAX_STATE = 256;

  /** Number of saved chunk-end states per sequence of {@code length} tokens. */
  public static long numChunks(long length, int chunk) {
    return (length + chunk - 1) / chunk;
  }
}
