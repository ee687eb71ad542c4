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

  /**
   * The Transformer baseline matched to {@link IteraLiteConfig#tiny}: D 128, 6 layers, 4 heads of
   * 32, SwiGLU hidden 448, tied classifier, 1024 positions; within 2% of its parameter count at
   * vocabularies 512 to 8192.
   */
  public static TransformerConfig tiny(int vocabSize) {
    return builder(vocabSize, 128, 6).heads(4).hiddenDim(448).build();
  }

  /**
   * The Transformer baseline matched to {@link IteraLiteConfig#small}: D 256, 8 layers, 8 heads of
   * 32, SwiGLU hidden 768, tied classifier, 1024 positions; within 4% of its parameter count at
   * vocabularies 512 to 8192.
   */
  public static TransformerConfig small(int vocabSize) {
    return builder(vocabSize, 256, 8).heads(8).hiddenDim(768).build();
  }

  /**
   * A builder with the defaults: heads of 32 elements ({@code dim / 32} heads, one head when dim is
   * not a multiple of 32), no grouping ({@code nKvHeads = nHeads}), SwiGLU hidden width {@code 8 dim
   * / 3} rounded up to a multiple of 32 (Llama's rule), 1024 positions, tied classifier.
   */
  public static Builder builder(int vocabSize, int dim, int nLayers) {
    return new Builder(vocabSize, dim, nLayers);
  }

  /** Mutable builder for {@link TransformerConfig}; {@link #build()} validates. */
  public static final class Builder {
    private final int vocabSize;
    private final int dim;
    private final int nLayers;
    private Integer hiddenDim; // null: the default (explicit values are validated as given)
    private Integer nHeads;
    private Integer nKvHeads;
    private int seqLen = 1024;
    private boolean sharedClassifier = true;

    private Builder(int vocabSize, int dim, int nLayers) {
      this.vocabSize = vocabSize;
      this.dim = dim;
      this.nLayers = nLayers;
    }

    /** SwiGLU hidden width. */
    public Builder hiddenDim(int v) {
      hiddenDim = v;
      return this;
    }

    /** Query heads (the key/value heads follow unless set). */
    public Builder heads(int v) {
      nHeads = v;
      return this;
    }

    /** Key/value heads: fewer than the query heads for grouped-query attention. */
    public Builder kvHeads(int v) {
      nKvHeads = v;
      return this;
    }

    /** Longest sequence (KV-cache positions and training window). */
    public Builder seqLen(int v) {
      seqLen = v;
      return this;
    }

    /** Whether the classifier is the token embedding (tied). */
    public Builder sharedClassifier(boolean v) {
      sharedClassifier = v;
      return this;
    }

    public TransformerConfig build() {
      int h = nHeads != null ? nHeads : (dim >= 32 && dim % 32 == 0 ? dim / 32 : 1);
      int kv = nKvHeads != null ? nKvHeads : h;
      int hid = hiddenDim != null ? hiddenDim : (int) ((8L * Math.max(dim, 1) / 3 + 31) / 32 * 32);
      return new TransformerConfig(dim, hid, nLayers, h, kv, vocabSize, seqLen, sharedClassifier);
    }
  }

  private static String describe(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize, int seqLen) {
    return "dim=" + dim + " hiddenDim=" + hiddenDim + " nLayers=" + nLayers + " nHeads=" + nHeads
        + " nKvHeads=" + nKvHeads + " vocabSize=" + vocabSize + " seqLen=" + seqLen;
  }
}
