package dev.iteralite.model;

import dev.iteralite.backend.Backend;
import dev.iteralite.nn.Embedding;
import dev.iteralite.nn.Layer;
import dev.iteralite.nn.Linear;
import dev.iteralite.nn.LmHeadLoss;
import dev.iteralite.nn.MambaMixer;
import dev.iteralite.nn.MambaState;
import dev.iteralite.nn.MixtureOfExperts;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.nn.RMSNorm;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The Itera-Lite language model: token embedding, then {@code nLayers} blocks of [RMSNorm, Mamba
 * mixer, residual, RMSNorm, feed-forward (MoE in every k-th block, dense SwiGLU otherwise),
 * residual], a final RMSNorm and an LM head tied to the embedding (fused with the loss).
 *
 * <p><b>Training.</b> {@link #forwardBackward} runs one forward and backward over {@code batch}
 * sequences laid out token-major ({@code tokens[b * L + t]}), accumulates every parameter gradient
 * (the MoE auxiliary losses included) and returns the total loss: mean next-token cross-entropy
 * plus the MoE auxiliary losses. {@link #loss} evaluates the cross-entropy alone. {@link
 * #forwardBackward(int[], int, HeadObjective, Arena)} runs the same pass with a caller-supplied
 * objective on the final hidden states and head weight (knowledge distillation); the cross-entropy
 * path is that method with the fused head loss.
 *
 * <p><b>Decoding.</b> {@link #newState(int)} holds every mixer's recurrent state; {@link
 * #stepLogits} feeds one token per sequence in time and memory independent of the context length.
 *
 * <p>Parameter names: {@code embed.weight}, {@code blocks.i.norm1.weight}, {@code
 * blocks.i.mixer.*} (see {@link MambaMixer}), {@code blocks.i.norm2.weight}, {@code
 * blocks.i.ffn.{w1,w3,w2}.weight} (dense) or {@code blocks.i.moe.*} (see {@link
 * MixtureOfExperts}), {@code final_norm.weight}. The model owns its parameters; close it.
 */
public final class IteraLiteModel implements CompressibleModel {
  private final Backend backend;
  private final IteraLiteConfig config;
  private final Embedding embedding;
  private final RMSNorm[] norm1;
  private final MambaMixer[] mixers;
  private final RMSNorm[] norm2;
  private final Layer[] ffns;
  private final List<MixtureOfExperts> moes = new ArrayList<>();
  private final RMSNorm finalNorm;
  private final LmHeadLoss head;
  private final ParameterSet params;
  private double lastAuxLoss;

  /**
   * Declares and initialises the model's parameters.
   *
   * @param dtype F32 for training, F64 for gradient checks
   * @param seed initialisation seed
   */
  public IteraLiteModel(Backend backend, IteraLiteConfig config, DType dtype, long seed) {
    if (backend == null || config == null || dtype == null) {
      throw new IllegalArgumentException("IteraLiteModel: backend, config and dtype must be non-null");
    }
    this.backend = backend;
    this.config = config;
    ParameterSet.Builder b = ParameterSet.builder();
    int n = config.nLayers();
    long d = config.dModel();
    this.embedding = new Embedding(backend, b, "embed", config.vocabSize(), d);
    this.norm1 = new RMSNorm[n];
    this.mixers = new MambaMixer[n];
    this.norm2 = new RMSNorm[n];
    this.ffns = new Layer[n];
    for (int i = 0; i < n; i++) {
      String p = "blocks." + i;
      norm1[i] = new RMSNorm(backend, b, p + ".norm1", d, IteraLiteConfig.NORM_EPS);
      mixers[i] = new MambaMixer(backend, b, p + ".mixer", config.mambaConfig());
      norm2[i] = new RMSNorm(backend, b, p + ".norm2", d, IteraLiteConfig.NORM_EPS);
      if (config.isMoeLayer(i)) {
        MixtureOfExperts moe = new MixtureOfExperts(backend, b, p + ".moe", config.moeConfig());
        moes.add(moe);
        ffns[i] = moe;
      } else {
        ffns[i] = new DenseSwiGlu(backend, b, p + ".ffn", d, config.ffnHidden());
      }
    }
    this.finalNorm = new RMSNorm(backend, b, "final_norm", d, IteraLiteConfig.NORM_EPS);
    this.head = new LmHeadLoss(backend, embedding.table());
    this.params = b.build(dtype, seed);
  }

  @Override
  public IteraLiteConfig config() {
    return config;
  }

  @Override
  public Backend backend() {
    return backend;
  }

  @Override
  public String architecture() {
    return "itera-lite";
  }

  @Override
  public int vocabSize() {
    return config.vocabSize();
  }

  /** Unbounded: the recurrent state has constant size. */
  @Override
  public int maxSequenceLength() {
    return Integer.MAX_VALUE;
  }

  @Override
  public double[] lastExpertLoad() {
    int e = config.experts();
    double[] load = new double[moes.size() * e];
    for (int l = 0; l < moes.size(); l++) {
      int[] counts = moes.get(l).lastRoutedCounts();
      long total = 0;
      for (int c : counts) {
        total += c;
      }
      for (int i = 0; i < e && i < counts.length; i++) {
        load[l * e + i] = total == 0 ? 0 : (double) counts[i] / total;
      }
    }
    return load;
  }

  /**
   * A single-sequence decoding session: on the native CPU backend with F32 weights an
   * allocation-free decoder ({@code IteraLiteDecoder}); otherwise {@link #stepLogits} on a
   * one-sequence {@link State}.
   */
  @Override
  public DecodeSession newSession() {
    if (backend instanceof dev.iteralite.backend.CpuBackend && params.dtype() == DType.F32) {
      return new IteraLiteDecoder(this);
    }
    State state = newState(1);
    return new DecodeSession() {
      @Override
      public float[] prefill(int[] prompt) {
        if (prompt == null || prompt.length == 0) {
          throw new IllegalArgumentException("IteraLiteModel: the prompt needs at least one token");
        }
        return prefillLogits(prompt, state);
      }

      @Override
      public float[] step(int token) {
        return stepLogits(token, state);
      }

      @Override
      public int position() {
        return (int) Math.min(Integer.MAX_VALUE, state.position());
      }

      @Override
      public int vocabSize() {
        return config.vocabSize();
      }

      @Override
      public void close() {
        state.close();
      }
    };
  }

  /** All parameters (owned by this model). */
  @Override
  public ParameterSet parameters() {
    return params;
  }

  /**
   * The tied embedding/head {@code embed.weight}; per block the Mamba projections {@code
   * blocks.i.mixer.{in,x,dt,out}_proj.weight}, then the feed-forward matrices {@code
   * blocks.i.ffn.w{1,3,2}.weight} or, in MoE blocks, one matrix per expert {@code blocks.i.moe.w{1,3,2}.e}.
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
    names.add("embed.weight");
    for (int i = 0; i < config.nLayers(); i++) {
      String p = "blocks." + i;
      for (String m : new String[] {"in_proj", "x_proj", "dt_proj", "out_proj"}) {
        names.add(p + ".mixer." + m + ".weight");
      }
      for (String m : new String[] {"w1", "w3", "w2"}) {
        if (config.isMoeLayer(i)) {
          for (int e = 0; e < config.experts(); e++) {
            names.add(p + ".moe." + m + "." + e);
          }
        } else {
          names.add(p + ".ffn." + m + ".weight");
        }
      }
    }
    return names;
  }

  @Override
  public Tensor compressibleMatrix(String name) {
    String parameter = parameterOf(name);
    Tensor value = params.get(parameter).value();
    if (!parameter.equals(name)) {
      return value.select(0, Integer.parseInt(name.substring(parameter.length() + 1)));
    }
    return value;
  }

  @Override
  public String parameterOf(String matrixName) {
    if (matrixName == null || !compressibleMatrices().contains(matrixName)) {
      throw new IllegalArgumentException("IteraLiteModel: '" + matrixName + "' is not a compressible matrix; the names are "
          + "those of compressibleMatrices()");
    }
    int dot = matrixName.lastIndexOf('.');
    String tail = matrixName.substring(dot + 1);
    boolean expertSlice = matrixName.contains(".moe.w") && tail.chars().allMatch(Character::isDigit);
    return expertSlice ? matrixName.substring(0, dot) : matrixName;
  }

  /** A decoding session that runs {@code weights}' compressed matrices (allocation-free per token). */
  @Override
  public DecodeSession newSession(QuantizedModel weights) {
    if (weights == null || weights.model() != this) {
      throw new IllegalArgumentException("IteraLiteModel: the compressed weights must have been made from this model");
    }
    return new IteraLiteDecoder(this, weights);
  }

  /** The mixers, block by block. */
  public List<MambaMixer> mixers() {
    return List.of(mixers);
  }

  /** The MoE layers in block order (empty when {@code moeEvery == 0}). */
  public List<MixtureOfExperts> moeLayers() {
    return List.copyOf(moes);
  }

  /** Sum of the MoE auxiliary losses of the latest forward (already weighted). */
  @Override
  public double lastAuxLoss() {
    return lastAuxLoss;
  }

  /**
   * One training forward and backward over {@code batch} sequences of {@code tokens.length / batch}
   * tokens; accumulates gradients (zero them before as needed).
   *
   * @param targets next tokens, same layout; {@link LmHeadLoss#IGNORE_INDEX} skips a position
   * @return mean cross-entropy (nats per counted target) plus the MoE auxiliary losses
   */
  @Override
  public double forwardBackward(int[] tokens, int[] targets, int batch, Arena arena) {
    return forwardBackward(tokens, batch, (h, w, dh, a) -> head.forwardBackward(h, targetTensor(targets, tokens.length, a), dh, a),
        arena);
  }

  /**
   * A loss computed by the caller from the final hidden states and the LM head weight, with its
   * gradient: what distillation and other head-level objectives plug into the model's backward.
   */
  @FunctionalInterface
  public interface HeadObjective {
    /**
     * Computes the loss of the hidden states {@code hidden} [T, D] (after the final norm, token-major
     * like the input) under the head weight {@code head} [V, D] (logits = hidden head^T).
     *
     * @param dHidden zeroed [T, D]: accumulate dLoss/dHidden into it and dLoss/dW into {@code
     *     head.grad()}; null when only the loss is wanted (leave every gradient untouched then)
     * @return the loss
     */
    double apply(Tensor hidden, Parameter head, Tensor dHidden, Arena arena);
  }

  /**
   * One training forward and backward with a caller-supplied head objective in place of the
   * cross-entropy; accumulates every parameter gradient, the MoE auxiliary losses included.
   *
   * @return the objective's loss plus the MoE auxiliary losses
   */
  public double forwardBackward(int[] tokens, int batch, HeadObjective objective, Arena arena) {
    if (objective == null) {
      throw new IllegalArgumentException("IteraLiteModel: the head objective must not be null");
    }
    Tensor h = forwardHidden(tokens, batch, arena);
    Tensor dh = arena.allocate(h.dtype(), h.shape());
    double loss = objective.apply(h, head.weight(), dh, arena);
    Tensor dx = finalNorm.backward(dh, arena);
    for (int i = config.nLayers() - 1; i >= 0; i--) {
      Tensor dn2 = ffns[i].backward(dx, arena);
      Tensor dx1 = norm2[i].backward(dn2, arena);
      backend.add(dx1, dx, dx1);
      Tensor dn1 = mixers[i].backward(dx1, arena);
      Tensor dx0 = norm1[i].backward(dn1, arena);
      backend.add(dx0, dx1, dx0);
      dx = dx0;
    }
    embedding.backward(dx, arena);
    return loss + lastAuxLoss;
  }

  /** The objective's loss of one forward (without the auxiliary losses), gradients untouched. */
  public double objectiveLoss(int[] tokens, int batch, HeadObjective objective) {
    if (objective == null) {
      throw new IllegalArgumentException("IteraLiteModel: the head objective must not be null");
    }
    try (Arena arena = Arena.open()) {
      return objective.apply(forwardHidden(tokens, batch, arena), head.weight(), null, arena);
    }
  }

  /** Mean next-token cross-entropy (nats per counted target) without touching gradients. */
  @Override
  public double loss(int[] tokens, int[] targets, int batch) {
    try (Arena arena = Arena.open()) {
      Tensor h = forwardHidden(tokens, batch, arena);
      return head.loss(h, targetTensor(targets, tokens.length, arena), arena);
    }
  }

  /** Logits [tokens.length, V] (row-major) of the full forward over {@code batch} sequences. */
  public float[] logits(int[] tokens, int batch) {
    try (Arena arena = Arena.open()) {
      Tensor h = forwardHidden(tokens, batch, arena);
      Tensor out = arena.allocate(h.dtype(), h.dim(0), config.vocabSize());
      backend.gemm(false, true, 1f, h, embedding.table().value(), 0f, out);
      return out.toFloatArray();
    }
  }

  private Tensor forwardHidden(int[] tokens, int batch, Arena arena) {
    TokenChecks.requireBatch("IteraLiteModel", tokens, batch);
    TokenChecks.requireIds("IteraLiteModel", tokens, config.vocabSize());
    Tensor x = embedding.forward(arena.adopt(Tensor.ofInts(tokens, tokens.length)), arena);
    double aux = 0;
    for (int i = 0; i < config.nLayers(); i++) {
      Tensor m = mixers[i].forward(norm1[i].forward(x, arena), batch, arena);
      Tensor x1 = arena.allocate(x.dtype(), x.shape());
      backend.add(x, m, x1);
      Tensor f = ffns[i].forward(norm2[i].forward(x1, arena), arena);
      Tensor x2 = arena.allocate(x.dtype(), x.shape());
      backend.add(x1, f, x2);
      if (ffns[i] instanceof MixtureOfExperts moe) {
        aux += moe.auxLoss();
      }
      x = x2;
    }
    lastAuxLoss = aux;
    return finalNorm.forward(x, arena);
  }

  private static Tensor targetTensor(int[] targets, int n, Arena arena) {
    if (targets == null || targets.length != n) {
      throw new IllegalArgumentException("IteraLiteModel: need " + n + " targets, got " + (targets == null ? "null" : targets.length));
    }
    return arena.adopt(Tensor.ofInts(targets, n));
  }

  // ------------------------------------------------------------------ recurrent decoding

  /** A zeroed decoding state (every mixer's window and SSM state) for {@code batch} sequences. */
  public State newState(int batch) {
    return new State(this, batch);
  }

  /**
   * Feeds one token per sequence ({@code tokens.length == state.batch()}) and returns the next-token
   * logits [batch, V] (row-major); updates {@code state} in place. Cost does not depend on how many
   * tokens the state has seen. Decode with frozen parameters (see {@link MambaState}).
   */
  public float[] stepLogits(int[] tokens, State state) {
    if (state == null || state.model != this) {
      throw new IllegalArgumentException("IteraLiteModel: the state must come from this model's newState()");
    }
    if (tokens == null || tokens.length != state.batch) {
      throw new IllegalArgumentException("IteraLiteModel: need one token per sequence (" + state.batch + "), got "
          + (tokens == null ? "null" : tokens.length));
    }
    try (Arena arena = Arena.open()) {
      Tensor x = forwardHiddenStep(tokens, state, arena);
      Tensor out = arena.allocate(x.dtype(), state.batch, config.vocabSize());
      backend.gemm(false, true, 1f, x, embedding.table().value(), 0f, out);
      state.position++;
      return out.toFloatArray();
    }
  }

  /**
   * Processes a prompt of {@code state.batch()} sequences ({@code tokens[b * L + t]}) with the full
   * (parallel) forward, starting from an empty context: {@code state} is reset, then left holding
   * every mixer's window and SSM state after the prompt, ready for {@link #stepLogits}. Returns the
   * logits [batch, V] (row-major) of each sequence's last prompt token.
   */
  public float[] prefillLogits(int[] tokens, State state) {
    if (state == null || state.model != this) {
      throw new IllegalArgumentException("IteraLiteModel: the state must come from this model's newState()");
    }
    int batch = state.batch;
    if (tokens == null || tokens.length == 0 || tokens.length % batch != 0) {
      throw new IllegalArgumentException("IteraLiteModel: " + (tokens == null ? "null" : tokens.length)
          + " prompt tokens do not split into batch=" + batch + " sequences of >= 1 token");
    }
    TokenChecks.requireIds("IteraLiteModel", tokens, config.vocabSize());
    state.reset();
    int len = tokens.length / batch;
    try (Arena arena = Arena.open()) {
      Tensor x = embedding.forward(arena.adopt(Tensor.ofInts(tokens, tokens.length)), arena);
      for (int i = 0; i < config.nLayers(); i++) {
        Tensor m = mixers[i].prefill(norm1[i].forward(x, arena), state.mixerStates[i], arena);
        Tensor x1 = arena.allocate(x.dtype(), x.shape());
        backend.add(x, m, x1);
        Tensor f = ffns[i].forward(norm2[i].forward(x1, arena), arena);
        Tensor x2 = arena.allocate(x.dtype(), x.shape());
        backend.add(x1, f, x2);
        x = x2;
      }
      Tensor last = arena.allocate(x.dtype(), batch, config.dModel());
      double[] xv = x.toDoubleArray();
      double[] lv = new double[batch * config.dModel()];
      for (int b = 0; b < batch; b++) {
        System.arraycopy(xv, ((b + 1) * len - 1) * config.dModel(), lv, b * config.dModel(), config.dModel());
      }
      last.copyFrom(lv);
      Tensor h = finalNorm.forward(last, arena);
      Tensor out = arena.allocate(h.dtype(), batch, config.vocabSize());
      backend.gemm(false, true, 1f, h, embedding.table().value(), 0f, out);
      state.position = len;
      return out.toFloatArray();
    }
  }

  /** {@link #stepLogits(int[], State)} for a single sequence. */
  public float[] stepLogits(int token, State state) {
    return stepLogits(new int[] {token}, state);
  }

  private Tensor forwardHiddenStep(int[] tokens, State state, Arena arena) {
    TokenChecks.requireIds("IteraLiteModel", tokens, config.vocabSize());
    Tensor x = embedding.forward(arena.adopt(Tensor.ofInts(tokens, tokens.length)), arena);
    for (int i = 0; i < config.nLayers(); i++) {
      Tensor m = arena.allocate(x.dtype(), x.shape());
      mixers[i].step(norm1[i].forward(x, arena), state.mixerStates[i], m);
      Tensor x1 = arena.allocate(x.dtype(), x.shape());
      backend.add(x, m, x1);
      Tensor f = ffns[i].forward(norm2[i].forward(x1, arena), arena);
      Tensor x2 = arena.allocate(x.dtype(), x.shape());
      backend.add(x1, f, x2);
      x = x2;
    }
    return finalNorm.forward(x, arena);
  }

  @Override
  public void close() {
    params.close();
  }

  /** The recurrent decoding state of an {@link IteraLiteModel}: one {@link MambaState} per block; close it. */
  public static final class State implements AutoCloseable {
    private final IteraLiteModel model;
    private final int batch;
    private final MambaState[] mixerStates;
    private long position;

    private State(IteraLiteModel model, int batch) {
      if (batch < 1) {
        throw new IllegalArgumentException("IteraLiteModel.State: batch must be >= 1, got " + batch);
      }
      this.model = model;
      this.batch = batch;
      this.mixerStates = new MambaState[model.mixers.length];
      try {
        for (int i = 0; i < mixerStates.length; i++) {
          mixerStates[i] = model.mixers[i].newState(batch);
        }
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }

    public int batch() {
      return batch;
    }

    /** Tokens fed per sequence since creation or {@link #reset()}. */
    public long position() {
      return position;
    }

    /** The recurrent state of block {@code layer}'s mixer. */
    MambaState mixerState(int layer) {
      return mixerStates[layer];
    }

    /** Zeroes every mixer state (an empty prompt). */
    public void reset() {
      for (MambaState s : mixerStates) {
        s.reset();
      }
      position = 0;
    }

    @Override
    public void close() {
      for (MambaState s : mixerStates) {
        if (s != null) {
          s.close();
        }
      }
    }
  }

  /** Dense SwiGLU feed-forward network {@code W2 (silu(W1 x) * W3 x)} without biases. */
  private static final class DenseSwiGlu implements Layer {
    private final Backend backend;
    private final long hidden;
    private final Linear w1;
    private final Linear w3;
    private final Linear w2;
    private Tensor h1;
    private Tensor h3;

    DenseSwiGlu(Backend backend, ParameterSet.Builder params, String name, long d, long hidden) {
      this.backend = backend;
      this.hidden = hidden;
      this.w1 = new Linear(backend, params, name + ".w1", d, hidden, false);
      this.w3 = new Linear(backend, params, name + ".w3", d, hidden, false);
      this.w2 = new Linear(backend, params, name + ".w2", hidden, d, false);
    }

    @Override
    public Tensor forward(Tensor x, Arena arena) {
      h1 = w1.forward(x, arena);
      h3 = w3.forward(x, arena);
      Tensor act = arena.allocate(x.dtype(), x.dim(0), hidden);
      backend.swigluForward(h1, h3, act);
      return w2.forward(act, arena);
    }

    @Override
    public Tensor backward(Tensor dy, Arena arena) {
      Tensor dact = w2.backward(dy, arena);
      Tensor dh1 = arena.allocate(dy.dtype(), dy.dim(0), hidden);
      Tensor dh3 = arena.allocate(dy.dtype(), dy.dim(0), hidden);
      backend.swigluBackward(h1, h3, dact, dh1, dh3);
      Tensor dx = w1.backward(dh1, arena);
      Tensor dx3 = w3.backward(dh3, arena);
      backend.add(dx, dx3, dx);
      return dx;
    }

    @Override
    public List<Parameter> parameters() {
      return List.of(w1.weight(), w3.weight(), w2.weight());
    }
  }
}
