package dev.iteralite.model;

/**
 * Hyperparameters of the Llama-style decoder Transformer (llama2.c's {@code Config}).
 *
 * @param dim model width
 * @param hiddenDim SwiGLU hidden width
 * @param nLayers number of decoder blocks
 * @param nHeads query heads
 * @param nKvHeads key/value heads (grouped-query attention when fewer than {@code nHeads})
 * @param vocabSize vocabulary size
 * @param seqLen maximum sequence length (KV-cache positions)
 * @param sharedClassifier true when the output classifier is the token embedding (tied)
 */
public record TransformerConfig(
    int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize, int seqLen, boolean sharedClassifier) {

  /** Validates the hyperparameters. */
  public TransformerConfig {
    if (dim <= 0 || hiddenDim <= 0 || nLayers <= 0 || nHeads <= 0 || nKvHeads <= 0 || vocabSize <= 0 || seqLen <= 0) {
      throw new IllegalArgumentException("transformer config: every size must be positive: " + describe(dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen));
    }
    if (dim % nHeads != 0) {
      throw new IllegalArgumentException("transformer config: dim " + dim + " is not divisible by nHeads " + nHeads);
    }
    if (nHeads % nKvHeads != 0) {
      throw new IllegalArgumentException("transformer config: nHeads " + nHeads + " is not divisible by nKvHeads " + nKvHeads);
    }
    if ((dim / nHeads) % 2 != 0) {
      throw new IllegalArgumentException("transformer config: head size " + dim / nHeads + " must be even for RoPE");
    }
  }

  /** Elements per head. */
  public int headSize() {
    return dim / nHeads;
  }

  /** Width of one position's keys (= values): {@code nKvHeads * headSize}. */
  public int kvDim() {
    return nKvHeads * headSize();
  }

  /** Query heads per key/value head. */
  public int kvMul() {
    return nHeads / nKvHeads;
  }

  /** Number of weights (llama2.c layout, without the unused RoPE tables). */
  public long parameterCount() {
    long d = dim;
    long perLayer = 2 * d + d * d + 2L * kvDim() * d + d * d + 3L * hiddenDim * d;
    return (long) vocabSize * d + nLayers * perLayer + d + (sharedClassifier ? 0 : (long) vocabSize * d);
  }

  private static String describe(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize, int seqLen) {
    return "dim=" + dim + " hiddenDim=" + hiddenDim + " nLayers=" + nLayers + " nHeads=" + nHeads
        + " nKvHeads=" + nKvHeads + " vocabSize=" + vocabSize + " seqLen=" + seqLen;
  }
}
