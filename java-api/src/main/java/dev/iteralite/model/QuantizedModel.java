package dev.iteralite.model;

import dev.iteralite.eval.LanguageModel;
import dev.iteralite.quant.QuantizedMatrix;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A {@link CompressibleModel} (Itera-Lite or the Transformer) whose matrices are stored in a
 * compressed {@link WeightFormat} and run through the native quantised kernels when decoding.
 * For Itera-Lite that is every Mamba projection, every dense and expert feed-forward matrix and
 * the tied LM head (whose rows also serve as the token embedding, dequantised one row per token).
 * Vectors (norms, conv taps, A_log, D, dt bias), the tiny MoE routers and any matrix whose input
 * width does not suit the format's block size stay F32 and are listed by {@link #keptF32()}.
 *
 * <p>A session's prefill runs each compressed matrix once over all prompt rows (quantised GEMM),
 * then every step runs the quantised GEMV. {@link #loss} and {@link #languageModel()} score windows
 * by stepping token by token, so they measure exactly what the compressed weights compute. As a {@link
 * CausalLm} it is inference-only: {@link #forwardBackward} refuses (train the F32 model, then
 * quantise it), and {@link #parameters()} are the source model's. The source model must stay open
 * and unchanged while this object is used; closing this frees only the compressed copies.
 */
public final class QuantizedModel implements CausalLm {
  private final CompressibleModel model;
  private final PrecisionPlan plan;
  private final Map<String, QuantizedMatrix> matrices = new LinkedHashMap<>();
  private final List<String> keptF32 = new ArrayList<>();
  private boolean ownsModel;
  private boolean closed;

  /** Metadata key prefix of a compressed matrix in a weights file: value {@code format:rows:cols}. */
  public static final String MATRIX_METADATA_PREFIX = "itera.quant.";

  private QuantizedModel(CompressibleModel model, PrecisionPlan plan) {
    this.model = model;
    this.plan = plan;
  }

  /**
   * Compresses {@code model}'s matrices to {@code format}.
   *
   * @throws IllegalArgumentException if the model is not F32 on the native CPU backend, or a weight
   *     cannot be represented in the format (NaN, infinity, fp16 overflow)
   */
  public static QuantizedModel quantize(CompressibleModel model, WeightFormat format) {
    Objects.requireNonNull(format, "format");
    return quantize(model, PrecisionPlan.uniform(format));
  }

  /**
   * Compresses each of {@code model}'s matrices to the format {@code plan} gives it (mixed
   * precision; {@link WeightFormat#F32} keeps a matrix uncompressed).
   *
   * @throws IllegalArgumentException as {@link #quantize(CompressibleModel, WeightFormat)}
   */
  public static QuantizedModel quantize(CompressibleModel model, PrecisionPlan plan) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(plan, "plan");
    if (model.parameters().dtype() != DType.F32) {
      throw new IllegalArgumentException("QuantizedModel: the source model must hold F32 weights, got "
          + model.parameters().dtype());
    }
    QuantizedModel q = new QuantizedModel(model, plan);
    try {
      for (String name : model.compressibleMatrices()) {
        q.add(name, model.compressibleMatrix(name));
      }
      return q;
    } catch (RuntimeException e) {
      q.close();
      throw e;
    }
  }

  private void add(String name, Tensor weights) {
    WeightFormat format = plan.formatOf(name);
    if (format == WeightFormat.F32 || weights.dim(1) % format.blockSize() != 0) {
      keptF32.add(name);
      return;
    }
    matrices.put(name, QuantizedMatrix.quantize(format, weights));
  }

  /**
   * The names of {@code model}'s compressible matrices, in the order {@link #quantize} visits them
   * (the names {@link PrecisionPlan} rules match).
   */
  public static List<String> matrixNames(CompressibleModel model) {
    return model.compressibleMatrices();
  }

  /**
   * Writes the decoding weights to a safetensors file: every compressed matrix as raw U8 bytes
   * (its format and shape in the metadata under {@link #MATRIX_METADATA_PREFIX}{@code name}) and
   * every parameter no compressed matrix covers as F32. Atomic, as {@link
   * dev.iteralite.checkpoint.Safetensors.Writer#write}.
   */
  public void writeWeights(java.nio.file.Path file, Map<String, String> metadata) throws java.io.IOException {
    checkOpen();
    dev.iteralite.checkpoint.Safetensors.Writer w = dev.iteralite.checkpoint.Safetensors.writer();
    metadata.forEach(w::metadata);
    w.metadata("itera.precision_plan", plan.describe());
    for (Map.Entry<String, QuantizedMatrix> e : matrices.entrySet()) {
      QuantizedMatrix m = e.getValue();
      w.metadata(MATRIX_METADATA_PREFIX + e.getKey(), m.format().id() + ":" + m.rows() + ":" + m.cols());
      java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(Math.toIntExact(m.bytes()));
      m.copyTo(bytes);
      bytes.flip();
      w.add(e.getKey(), dev.iteralite.checkpoint.SafetensorsDType.U8, new long[] {m.bytes()}, bytes);
    }
    for (dev.iteralite.nn.Parameter p : model.parameters().parameters()) {
      if (!covered(p.name())) {
        w.add(p.name(), p.value());
      }
    }
    w.write(file);
  }

  /** Whether the compressed matrices hold the whole parameter {@code name}. */
  private boolean covered(String name) {
    boolean any = false;
    for (String matrix : model.compressibleMatrices()) {
      if (model.parameterOf(matrix).equals(name)) {
        if (!matrices.containsKey(matrix)) {
          return false;
        }
        any = true;
      }
    }
    return any;
  }

  /**
   * Reads decoding weights written by {@link #writeWeights} into {@code model} (a freshly built
   * F32 model of the same configuration, which the result then owns and closes): F32 parameters
   * are read directly, compressed matrices are rebuilt with every block size and scale validated
   * ({@link QuantizedMatrix#fromBytes}) and also dequantised into the model's parameters.
   *
   * @throws java.io.IOException if a tensor is missing, has another size or format, or fails validation
   */
  public static QuantizedModel readWeights(java.nio.file.Path file, CompressibleModel model) throws java.io.IOException {
    Objects.requireNonNull(model, "model");
    try (dev.iteralite.checkpoint.Safetensors.Reader r = dev.iteralite.checkpoint.Safetensors.open(file)) {
      Map<String, String> meta = r.metadata();
      List<PrecisionPlan.Rule> rules = new ArrayList<>();
      QuantizedModel q = new QuantizedModel(model, PrecisionPlan.uniform(WeightFormat.F32));
      try {
        for (String name : matrixNames(model)) {
          String spec = meta.get(MATRIX_METADATA_PREFIX + name);
          if (spec == null) {
            q.keptF32.add(name);
            continue;
          }
          String[] f = spec.split(":");
          if (f.length != 3) {
            throw new java.io.IOException(file + ": metadata of matrix '" + name + "' is '" + spec + "', expected format:rows:cols");
          }
          WeightFormat format;
          long rows;
          long cols;
          try {
            format = WeightFormat.fromId(f[0]);
            rows = Long.parseLong(f[1]);
            cols = Long.parseLong(f[2]);
          } catch (IllegalArgumentException e) {
            throw new java.io.IOException(file + ": metadata of matrix '" + name + "' ('" + spec + "') is invalid: " + e.getMessage(), e);
          }
          Tensor target = model.compressibleMatrix(name);
          if (target.dim(0) != rows || target.dim(1) != cols) {
            throw new java.io.IOException(file + ": matrix '" + name + "' is stored as " + rows + "x" + cols + " but the model's is "
                + target.dim(0) + "x" + target.dim(1));
          }
          QuantizedMatrix m;
          try {
            m = QuantizedMatrix.fromBytes(format, rows, cols, r.bytes(name));
          } catch (IllegalArgumentException e) {
            throw new java.io.IOException(file + ": compressed matrix '" + name + "' is invalid: " + e.getMessage(), e);
          }
          q.matrices.put(name, m);
          m.dequantize(target);
          rules.add(new PrecisionPlan.Rule(java.util.regex.Pattern.quote(name), format));
        }
        for (dev.iteralite.nn.Parameter p : model.parameters().parameters()) {
          if (!q.covered(p.name())) {
            if (!r.contains(p.name())) {
              throw new java.io.IOException(file + ": parameter '" + p.name() + "' is neither compressed nor stored");
            }
            r.readInto(p.name(), p.value());
          }
        }
      } catch (java.io.IOException | RuntimeException e) {
        q.close();
        throw e;
      }
      QuantizedModel result = new QuantizedModel(model, new PrecisionPlan(rules, WeightFormat.F32));
      result.matrices.putAll(q.matrices);
      result.keptF32.addAll(q.keptF32);
      result.ownsModel = true;
      return result;
    }
  }

  /** The source model. */
  public CompressibleModel model() {
    return model;
  }

  /** The precision plan the matrices were compressed with. */
  public PrecisionPlan plan() {
    return plan;
  }

  /** The format matrix {@code name} is stored in ({@link WeightFormat#F32} when kept uncompressed). */
  public WeightFormat formatOf(String name) {
    QuantizedMatrix m = matrices.get(name);
    return m == null ? WeightFormat.F32 : m.format();
  }

  /** Names of the matrices left in F32: by the plan, or because their input width does not suit the block size. */
  public List<String> keptF32() {
    return Collections.unmodifiableList(keptF32);
  }

  /** The compressed matrix stored under {@code name}, or null when that matrix stays F32. */
  QuantizedMatrix matrix(String name) {
    checkOpen();
    return matrices.get(name);
  }

  /**
   * Bytes the decoding weights occupy: the compressed matrices plus every parameter kept in F32
   * (the source model's copies of compressed matrices are not counted; a deployment drops them).
   */
  public long weightBytes() {
    long bytes = 0;
    for (QuantizedMatrix m : matrices.values()) {
      bytes += m.bytes();
    }
    long compressedElements = 0;
    for (QuantizedMatrix m : matrices.values()) {
      compressedElements += m.rows() * m.cols();
    }
    return bytes + 4L * (model.parameters().parameterCount() - compressedElements);
  }

  /** Average stored bits per parameter, {@code 8 * weightBytes() / parameters}. */
  public double bitsPerWeight() {
    return 8.0 * weightBytes() / model.parameters().parameterCount();
  }

  @Override
  public String architecture() {
    return model.architecture();
  }

  @Override
  public Record config() {
    return model.config();
  }

  @Override
  public dev.iteralite.backend.Backend backend() {
    return model.backend();
  }

  /** The source model's F32 parameters (the compressed copies are not parameters). */
  @Override
  public dev.iteralite.nn.ParameterSet parameters() {
    return model.parameters();
  }

  @Override
  public int vocabSize() {
    return model.vocabSize();
  }

  @Override
  public int maxSequenceLength() {
    return model.maxSequenceLength();
  }

  /** Refuses: compressed weights have no gradients. */
  @Override
  public double forwardBackward(int[] tokens, int[] targets, int batch, dev.iteralite.tensor.Arena arena) {
    throw new UnsupportedOperationException("QuantizedModel (" + plan.describe() + ") is for inference: train the F32 "
        + model.architecture() + " model, then quantise it again");
  }

  @Override
  public double lastAuxLoss() {
    return 0;
  }

  /** Mean next-token cross-entropy of the compressed weights (token-by-token decoding of each window). */
  @Override
  public double loss(int[] tokens, int[] targets, int batch) {
    long counted = 0;
    for (int t : targets) {
      if (t >= 0) {
        counted++;
      }
    }
    if (counted == 0) {
      throw new IllegalArgumentException("QuantizedModel: no target to score (every target is ignored)");
    }
    return languageModel().sumNll(tokens, targets, batch) / counted;
  }

  /** A new single-sequence decoding session over the compressed weights; close it. */
  @Override
  public DecodeSession newSession() {
    checkOpen();
    return model.newSession(this);
  }

  /**
   * The compressed model for {@link dev.iteralite.eval.Evaluator}: each window is decoded token by
   * token from an empty state and scored from the logits the compressed weights produce.
   */
  public LanguageModel languageModel() {
    return new LanguageModel() {
      @Override
      public int vocabSize() {
        return model.vocabSize();
      }

      @Override
      public double sumNll(int[] inputs, int[] targets, int batch) {
        if (inputs == null || targets == null || batch < 1 || inputs.length != targets.length || inputs.length % batch != 0) {
          throw new IllegalArgumentException("QuantizedModel: inputs and targets must be equal-length batches of "
              + batch + " windows");
        }
        int len = inputs.length / batch;
        double nll = 0;
        try (DecodeSession session = newSession()) {
          for (int b = 0; b < batch; b++) {
            float[] logits = session.prefill(new int[] {inputs[b * len]});
            nll += negativeLogLikelihood(logits, targets[b * len]);
            for (int t = 1; t < len; t++) {
              logits = session.step(inputs[b * len + t]);
              nll += negativeLogLikelihood(logits, targets[b * len + t]);
            }
          }
        }
        return nll;
      }

      @Override
      public String toString() {
        return model.architecture() + "(" + plan.describe() + ")";
      }
    };
  }

  private static double negativeLogLikelihood(float[] logits, int target) {
    if (target < 0) {
      return 0;
    }
    double max = Double.NEGATIVE_INFINITY;
    for (float v : logits) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (float v : logits) {
      sum += Math.exp(v - max);
    }
    return max + Math.log(sum) - logits[target];
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("QuantizedModel: closed");
    }
  }

  /** Frees the compressed copies, and the source model when this was loaded from a file. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      for (QuantizedMatrix m : matrices.values()) {
        m.close();
      }
      matrices.clear();
      if (ownsModel) {
        model.close();
      }
    }
  }
}
