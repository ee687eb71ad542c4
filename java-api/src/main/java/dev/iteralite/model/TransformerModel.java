package dev.iteralite.model;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.nn.CausalSelfAttention;
import dev.iteralite.nn.Init;
import dev.iteralite.nn.LmHeadLoss;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The trainable Transformer baseline: a Llama-style pre-norm decoder (RMSNorm, multi-head causal
 * self-attention with RoPE and grouped-query heads, residual, RMSNorm, SwiGLU feed-forward,
 * residual; final RMSNorm and a tied or separate classifier fused with the loss), trained by the
 * same pipeline as {@link IteraLiteModel} through {@link CausalLm}.
 *
 * <p>Its parameters have exactly the names, shapes and order of {@link Transformer#declare}
 * (llama2.c's layout), so a trained model decodes with the fast one-token {@link Transformer} and
 * its {@link KvCache} ({@link #newSession()}), and llama2.c checkpoints ({@link
 * Llama2cCheckpoint}) load into it for evaluation or fine-tuning. Training windows hold at most
 * {@code config.seqLen()} tokens per sequence (RoPE positions restart at 0 in every sequence).
 * The model owns its parameters; close it.
 *
 * <p>As a {@link CompressibleModel} its matrices (embedding, classifier, attention and feed-forward
 * projections) can be stored compressed by {@link QuantizedModel}, which then decodes through
 * {@code QuantizedTransformerDecoder}: quantised GEMV per token and one quantised GEMM per
 * matrix for the whole prompt.
 */
public final class TransformerModel implements CompressibleModel {
  private final Backend backend;
  private final TransformerConfig config;
  private final ParameterSet params;
  private final Parameter embedding;
  private final Parameter finalNorm;
  private final LmHeadLoss head;
  private final Block[] blocks;
  private Tensor savedIds;
  private Tensor savedFinalIn;
  private Tensor savedFinalRstd;
  private Transformer inference;

  /**
   * Declares ({@link #declare}) and initialises the parameters.
   *
   * @param dtype F32 for training, F64 for gradient checks (reference backend)
   * @param seed initialisation seed
   */
  public TransformerModel(Backend backend, TransformerConfig config, DType dtype, long seed) {
    this(backend, config, build(config, dtype, seed));
  }

  /**
   * A model over existing weights laid out by {@link Transformer#declare} or {@link #declare}, e.g.
   * {@code Llama2cCheckpoint.weights()}. The model takes ownership: closing it closes {@code
   * weights} (closing them again through their previous owner is harmless).
   *
   * @throws IllegalArgumentException if a weight is missing or has the wrong shape, or the dtype is
   *     not F32 / F64
   */
  public TransformerModel(Backend backend, TransformerConfig config, ParameterSet weights) {
    if (backend == null || config == null || weights == null) {
      throw new IllegalArgumentException("TransformerModel: backend, config and weights must be non-null");
    }
    if (weights.dtype() != DType.F32 && weights.dtype() != DType.F64) {
      throw new IllegalArgumentException("TransformerModel: weights must be F32 (training) or F64 (gradient checks), got "
          + weights.dtype());
    }
    this.backend = backend;
    this.config = config;
    this.params = weights;
    long d = config.dim();
    long kv = config.kvDim();
    long hid = config.hiddenDim();
    this.embedding = weight("tok_embeddings", config.vocabSize(), d);
    this.blocks = new Block[config.nLayers()];
    for (int l = 0; l < blocks.length; l++) {
      String p = "layers." + l + ".";
      CausalSelfAttention attn = new CausalSelfAttention(backend, weight(p + "attn.wq", d, d), weight(p + "attn.wk", kv, d),
          weight(p + "attn.wv", kv, d), weight(p + "attn.wo", d, d), config.nHeads(), config.nKvHeads());
      blocks[l] = new Block(weight(p + "attn_norm", d), attn, weight(p + "ffn_norm", d), weight(p + "ffn.w1", hid, d),
          weight(p + "ffn.w3", hid, d), weight(p + "ffn.w2", d, hid));
    }
    this.finalNorm = weight("norm", d);
    Parameter classifier = config.sharedClassifier() ? embedding : weight("output", config.vocabSize(), d);
    this.head = new LmHeadLoss(backend, classifier);
  }

  private static ParameterSet build(TransformerConfig config, DType dtype, long seed) {
    if (config == null || dtype == null) {
      throw new IllegalArgumentException("TransformerModel: config and dtype must be non-null");
    }
    return declare(config).build(dtype, seed);
  }

  /**
   * The parameter layout of {@link Transformer#declare} (same names, shapes, order and weight-decay
   * flags) with GPT-2's scaled initialisation: N(0, 0.02²) everywhere except the two projections
   * that write into the residual stream ({@code attn.wo}, {@code ffn.w2}), N(0, (0.02 / sqrt(2 *
   * nLayers))²), so the residual's variance does not grow with depth; norms start at one.
   */
  public static ParameterSet.Builder declare(TransformerConfig c) {
    if (c == null) {
      throw new IllegalArgumentException("TransformerModel: config must not be null");
    }
    return Transformer.declare(c, Init.normal(0.02 / Math.sqrt(2.0 * c.nLayers())));
  }

  private Parameter weight(String name, long... shape) {
    Parameter p = params.get(name);
    if (!Arrays.equals(p.shape(), shape)) {
      throw new IllegalArgumentException("TransformerModel: weight '" + name + "' has shape " + Arrays.toString(p.shape())
          + ", expected " + Arrays.toString(shape) + " for " + config);
    }
    return p;
  }

  @Override
  public String architecture() {
    return "transformer";
  }

  @Override
  public TransformerConfig config() {
    return config;
  }

  @Override
  public Backend backend() {
    return backend;
  }

  @Override
  public ParameterSet parameters() {
    return params;
  }

  @Override
  public int vocabSize() {
    return config.vocabSize();
  }

  @Override
  public int maxSequenceLength() {
    return config.seqLen();
  }

  /** No auxiliary losses: always 0. */
  @Override
  public double lastAuxLoss() {
    return 0;
  }

  // ------------------------------------------------------------------ training

  @Override
  public double forwardBackward(int[] tokens, int[] targets, int batch, Arena arena) {
    Tensor h = forwardHidden(tokens, batch, arena);
    Tensor tgt = targetTensor(targets, tokens.length, arena);
    // g: the gradient of the residual stream, accumulated in place block by block (every norm
    // backward adds its dx into it, which is exactly the residual connection's gradient).
    Tensor g = arena.allocate(h.dtype(), h.shape());
    double loss = head.forwardBackward(h, tgt, g, arena);
    Tensor dx = arena.allocate(h.dtype(), h.shape());
    backend.rmsNormBackward(g, savedFinalIn, finalNorm.value(), savedFinalRstd, dx, finalNorm.grad());
    for (int l = blocks.length - 1; l >= 0; l--) {
      blocks[l].backward(dx, arena);
    }
    backend.embeddingBackward(savedIds, dx, embedding.grad());
    return loss;
  }

  @Override
  public double loss(int[] tokens, int[] targets, int batch) {
    try (Arena arena = Arena.open()) {
      Tensor h = forwardHidden(tokens, batch, arena);
      return head.loss(h, targetTensor(targets, tokens.length, arena), arena);
    }
  }

  /** Logits [tokens.length, V] (row-major) of the training forward over {@code batch} sequences. */
  public float[] logits(int[] tokens, int batch) {
    try (Arena arena = Arena.open()) {
      Tensor h = forwardHidden(tokens, batch, arena);
      Tensor out = arena.allocate(h.dtype(), h.dim(0), config.vocabSize());
      backend.gemm(false, true, 1f, h, head.weight().value(), 0f, out);
      return out.toFloatArray();
    }
  }

  private Tensor forwardHidden(int[] tokens, int batch, Arena arena) {
    TokenChecks.requireBatch("TransformerModel", tokens, batch);
    int len = tokens.length / batch;
    if (len > config.seqLen()) {
      throw new IllegalArgumentException("TransformerModel: sequences of " + len + " tokens exceed seqLen "
          + config.seqLen() + "; use shorter windows or a config with a longer seqLen");
    }
    TokenChecks.requireIds("TransformerModel", tokens, config.vocabSize());
    Tensor ids = arena.adopt(Tensor.ofInts(tokens, tokens.length));
    Tensor x = arena.allocate(params.dtype(), tokens.length, config.dim());
    backend.embeddingForward(ids, embedding.value(), x);
    savedIds = ids;
    for (Block b : blocks) {
      x = b.forward(x, batch, arena);
    }
    savedFinalIn = x;
    savedFinalRstd = arena.allocate(x.dtype(), x.dim(0));
    Tensor h = arena.allocate(x.dtype(), x.shape());
    backend.rmsNormForward(x, finalNorm.value(), Transformer.EPS, h, savedFinalRstd);
    return h;
  }

  private static Tensor targetTensor(int[] targets, int n, Arena arena) {
    if (targets == null || targets.length != n) {
      throw new IllegalArgumentException("TransformerModel: need " + n + " targets, got " + (targets == null ? "null" : targets.length));
    }
    return arena.adopt(Tensor.ofInts(targets, n));
  }

  /** One decoder block with what its backward needs from the latest forward. */
  private final class Block {
    final Parameter attnNorm;
    final CausalSelfAttention attn;
    final Parameter ffnNorm;
    final Parameter w1;
    final Parameter w3;
    final Parameter w2;
    Tensor x0;
    Tensor rstd1;
    Tensor x1;
    Tensor rstd2;
    Tensor n2;
    Tensor h1;
    Tensor h3;
    Tensor act;

    Block(Parameter attnNorm, CausalSelfAttention attn, Parameter ffnNorm, Parameter w1, Parameter w3, Parameter w2) {
      this.attnNorm = attnNorm;
      this.attn = attn;
      this.ffnNorm = ffnNorm;
      this.w1 = w1;
      this.w3 = w3;
      this.w2 = w2;
    }

    Tensor forward(Tensor x, int batch, Arena arena) {
      long rows = x.dim(0);
      DType dt = x.dtype();
      x0 = x;
      rstd1 = arena.allocate(dt, rows);
      Tensor n1 = arena.allocate(dt, x.shape());
      backend.rmsNormForward(x, attnNorm.value(), Transformer.EPS, n1, rstd1);
      Tensor a = attn.forward(n1, batch, arena);
      x1 = arena.allocate(dt, x.shape());
      backend.add(x, a, x1);
      rstd2 = arena.allocate(dt, rows);
      n2 = arena.allocate(dt, x.shape());
      backend.rmsNormForward(x1, ffnNorm.value(), Transformer.EPS, n2, rstd2);
      long hid = config.hiddenDim();
      h1 = arena.allocate(dt, rows, hid);
      h3 = arena.allocate(dt, rows, hid);
      backend.gemm(false, true, 1f, n2, w1.value(), 0f, h1);
      backend.gemm(false, true, 1f, n2, w3.value(), 0f, h3);
      act = arena.allocate(dt, rows, hid);
      backend.swigluForward(h1, h3, act);
      Tensor x2 = arena.allocate(dt, x.shape());
      backend.gemm(false, true, 1f, act, w2.value(), 0f, x2);
      backend.add(x1, x2, x2);
      return x2;
    }

    /** g: dLoss/d(block output) on entry, dLoss/d(block input) on return (updated in place). */
    void backward(Tensor g, Arena arena) {
      long rows = g.dim(0);
      DType dt = g.dtype();
      long hid = config.hiddenDim();
      Tensor dact = arena.allocate(dt, rows, hid);
      backend.gemm(false, false, 1f, g, w2.value(), 0f, dact);
      backend.gemm(true, false, 1f, g, act, 1f, w2.grad());
      Tensor dh1 = arena.allocate(dt, rows, hid);
      Tensor dh3 = arena.allocate(dt, rows, hid);
      backend.swigluBackward(h1, h3, dact, dh1, dh3);
      Tensor dn2 = arena.allocate(dt, g.shape());
      backend.gemm(false, false, 1f, dh1, w1.value(), 0f, dn2);
      backend.gemm(false, false, 1f, dh3, w3.value(), 1f, dn2);
      backend.gemm(true, false, 1f, dh1, n2, 1f, w1.grad());
      backend.gemm(true, false, 1f, dh3, n2, 1f, w3.grad());
      backend.rmsNormBackward(dn2, x1, ffnNorm.value(), rstd2, g, ffnNorm.grad());
      Tensor dn1 = attn.backward(g, arena);
      backend.rmsNormBackward(dn1, x0, attnNorm.value(), rstd1, g, attnNorm.grad());
    }
  }

  // ------------------------------------------------------------------ decoding

  /**
   * The one-token inference {@link Transformer} over this model's weights (shared, not copied):
   * decoding a trained model without any conversion. Needs the CPU backend and F32 weights.
   *
   * @throws IllegalStateException on another backend or dtype
   */
  public synchronized Transformer inference() {
    if (!(backend instanceof CpuBackend cpu) || params.dtype() != DType.F32) {
      throw new IllegalStateException("TransformerModel: KV-cache inference needs the CPU backend and F32 weights, have "
          + backend.getClass().getSimpleName() + " / " + params.dtype());
    }
    if (inference == null) {
      inference = new Transformer(cpu, config, params);
    }
    return inference;
  }

  /**
   * A decoding session: on the CPU backend with F32 weights, {@link Transformer} with a {@link
   * KvCache}, the prompt prefilled in one pass of GEMMs and causal attention; otherwise (reference backend, F64) a slow session
   * that reruns the training forward over the whole context for every token.
   */
  @Override
  public DecodeSession newSession() {
    if (backend instanceof CpuBackend && params.dtype() == DType.F32) {
      return new QuantizedTransformerDecoder(this, inference(), null);
    }
    return new RecomputeSession();
  }

  // ------------------------------------------------------------------ compression

  /**
   * {@code tok_embeddings} (also the classifier when shared), per layer {@code layers.L.attn.wq},
   * {@code .wk}, {@code .wv}, {@code .wo}, {@code layers.L.ffn.w1}, {@code .w3}, {@code .w2}, then
   * {@code output} when the classifier is separate; every matrix is a whole parameter. Norms stay F32.
   */
  @Override
  public List<String> compressibleMatrices() {
    if (compressibleNames == null) {
      compressibleNames = List.copyOf(listCompressibleMatrices());
    }
    return compressibleNames;
  }

  // The layout is fixed by the configuration; parameterOf and the compressed checkpoints look names up often.
  private List<String> compressibleNames;

  private List<String> listCompressibleMatrices() {
    List<String> names = new ArrayList<>();
    names.add("tok_embeddings");
    for (int l = 0; l < config.nLayers(); l++) {
      String p = "layers." + l + ".";
      for (String m : new String[] {"attn.wq", "attn.wk", "attn.wv", "attn.wo", "ffn.w1", "ffn.w3", "ffn.w2"}) {
        names.add(p + m);
      }
    }
    if (!config.sharedClassifier()) {
      names.add("output");
    }
    return names;
  }

  @Override
  public Tensor compressibleMatrix(String name) {
    return params.get(parameterOf(name)).value();
  }

  @Override
  public String parameterOf(String matrixName) {
    if (matrixName == null || !compressibleMatrices().contains(matrixName)) {
      throw new IllegalArgumentException("TransformerModel: '" + matrixName + "' is not a compressible matrix; the names"
          + " are those of compressibleMatrices()");
    }
    return matrixName;
  }

  /**
   * A decoding session over {@code weights}' compressed matrices (allocation-free per token; the
   * prompt in one batched pass). Needs the CPU backend and F32 weights.
   *
   * @throws IllegalArgumentException if {@code weights} was not made from this model
   * @throws IllegalStateException on another backend or dtype
   */
  @Override
  public DecodeSession newSession(QuantizedModel weights) {
    if (weights == null || weights.model() != this) {
      throw new IllegalArgumentException("TransformerModel: the compressed weights must have been made from this model");
    }
    return new QuantizedTransformerDecoder(this, inference(), weights);
  }

  void checkPrompt(int[] prompt) {
    if (prompt == null || prompt.length == 0) {
      throw new IllegalArgumentException("TransformerModel: the prompt needs at least one token");
    }
    if (prompt.length > config.seqLen()) {
      throw new IllegalArgumentException("TransformerModel: prompt of " + prompt.length + " tokens exceeds seqLen "
          + config.seqLen());
    }
    for (int t : prompt) {
      checkToken(t);
    }
  }

  void checkToken(int t) {
    TokenChecks.requireId("TransformerModel", t, config.vocabSize());
  }

  void checkRoom(int position) {
    if (position >= config.seqLen()) {
      throw new IllegalStateException("TransformerModel: the context is full (" + position + " = seqLen tokens)");
    }
  }

  private final class RecomputeSession implements DecodeSession {
    private int[] context = new int[0];

    @Override
    public float[] prefill(int[] prompt) {
      checkPrompt(prompt);
      context = prompt.clone();
      return lastLogits();
    }

    @Override
    public float[] step(int token) {
      checkToken(token);
      checkRoom(context.length);
      context = Arrays.copyOf(context, context.length + 1);
      context[context.length - 1] = token;
      return lastLogits();
    }

    private float[] lastLogits() {
      try (Arena arena = Arena.open()) {
        Tensor h = forwardHidden(context, 1, arena);
        Tensor last = h.slice(0, h.dim(0) - 1, h.dim(0));
        Tensor out = arena.allocate(h.dtype(), 1, config.vocabSize());
        backend.gemm(false, true, 1f, last, head.weight().value(), 0f, out);
        return out.toFloatArray();
      }
    }

    @Override
    public int position() {
      return context.length;
    }

    @Override
    public int vocabSize() {
      return config.vocabSize();
    }

    @Override
    public void close() {
      context = new int[0];
    }
  }

  @Override
  public void close() {
    params.close();
  }
}
