package dev.iteralite.bench;

import dev.iteralite.eval.LanguageModel;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.DecodeSession;
import dev.iteralite.model.KvCache;
import dev.iteralite.model.Transformer;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.function.LongUnaryOperator;
import java.util.function.Supplier;

/**
 * What {@link ModelBenchmark} measures: a named model seen through decoding sessions, with its
 * size, its analytic FLOPs per token and (optionally) a way to score text for perplexity. Built
 * from any {@link CausalLm} or from the inference-only llama2.c {@link Transformer}.
 *
 * @param name the label in the report
 * @param architecture e.g. {@code itera-lite}, {@code transformer}
 * @param parameters number of weights
 * @param parameterBytes bytes the weights occupy
 * @param vocabSize exclusive upper bound of the token ids
 * @param maxSequenceLength longest context a session holds
 * @param flopsAtContext FLOPs per token at a context length, or -1 when unknown
 * @param sessions opens a new decoding session (the benchmark closes it)
 * @param scorer scores windows for perplexity; null when the model cannot
 */
public record BenchmarkTarget(
    String name,
    String architecture,
    long parameters,
    long parameterBytes,
    int vocabSize,
    int maxSequenceLength,
    LongUnaryOperator flopsAtContext,
    Supplier<DecodeSession> sessions,
    LanguageModel scorer) {

  /** Rejects nulls (except {@code scorer}), blank names and non-positive sizes. */
  public BenchmarkTarget {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("BenchmarkTarget: name must be non-blank");
    }
    Objects.requireNonNull(architecture, "architecture");
    Objects.requireNonNull(flopsAtContext, "flopsAtContext");
    Objects.requireNonNull(sessions, "sessions");
    if (parameters < 1 || parameterBytes < 1) {
      throw new IllegalArgumentException("BenchmarkTarget: parameters and parameterBytes must be >= 1, got "
          + parameters + " and " + parameterBytes);
    }
    if (vocabSize < 2 || maxSequenceLength < 2) {
      throw new IllegalArgumentException("BenchmarkTarget: vocabSize and maxSequenceLength must be >= 2, got "
          + vocabSize + " and " + maxSequenceLength);
    }
  }

  /** A {@link CausalLm} (Itera-Lite, the Transformer baseline or any later architecture). */
  public static BenchmarkTarget of(String name, CausalLm model) {
    Objects.requireNonNull(model, "model");
    Record config = model.config();
    return new BenchmarkTarget(name, model.architecture(), model.parameters().parameterCount(),
        parameterBytes(model.parameters()), model.vocabSize(), model.maxSequenceLength(),
        ctx -> FlopCounter.perToken(config, ctx).orElse(-1), model::newSession, LanguageModel.of(model));
  }

  /**
   * The inference-only llama2.c {@link Transformer} (e.g. stories260K): decoded token by token
   * through its KV cache; perplexity windows are scored the same way.
   */
  public static BenchmarkTarget of(String name, Transformer model) {
    Objects.requireNonNull(model, "model");
    var c = model.config();
    return new BenchmarkTarget(name, "transformer", model.weights().parameterCount(),
        parameterBytes(model.weights()), c.vocabSize(), c.seqLen(),
        ctx -> FlopCounter.transformer(c, ctx), () -> new KvSession(model), new KvScorer(model));
  }

  /** FLOPs per token at {@code context}, empty when unknown. */
  public OptionalLong flopsPerToken(long context) {
    long f = flopsAtContext.applyAsLong(context);
    return f < 0 ? OptionalLong.empty() : OptionalLong.of(f);
  }

  private static long parameterBytes(dev.iteralite.nn.ParameterSet p) {
    return p.dtype().bytesFor(p.parameterCount());
  }

  /** Decodes with the llama2.c forward, one position at a time, into a KV cache it owns. */
  private static final class KvSession implements DecodeSession {
    private final Transformer model;
    private final KvCache cache;
    private int position;

    KvSession(Transformer model) {
      this.model = model;
      this.cache = model.newCache();
    }

    @Override
    public float[] prefill(int[] prompt) {
      if (prompt == null || prompt.length == 0) {
        throw new IllegalArgumentException("transformer: the prompt needs at least one token");
      }
      if (prompt.length > model.config().seqLen()) {
        throw new IllegalArgumentException("transformer: prompt of " + prompt.length
            + " tokens exceeds the sequence length " + model.config().seqLen());
      }
      position = 0;
      float[] logits = null;
      for (int t : prompt) {
        logits = model.forward(t, position++, cache);
      }
      return logits;
    }

    @Override
    public float[] step(int token) {
      if (position >= model.config().seqLen()) {
        throw new IllegalStateException("transformer: the context is full (" + position + " tokens)");
      }
      return model.forward(token, position++, cache);
    }

    @Override
    public int position() {
      return position;
    }

    @Override
    public int vocabSize() {
      return model.config().vocabSize();
    }

    @Override
    public void close() {
      cache.close();
    }
  }

  /** Summed NLL of windows through the llama2.c forward (one cache reused for every window). */
  private record KvScorer(Transformer model) implements LanguageModel {
    @Override
    public int vocabSize() {
      return model.config().vocabSize();
    }

    @Override
    public double sumNll(int[] inputs, int[] targets, int batch) {
      int len = inputs.length / batch;
      double total = 0;
      try (KvCache cache = model.newCache()) {
        for (int b = 0; b < batch; b++) {
          for (int t = 0; t < len; t++) {
            float[] logits = model.forward(inputs[b * len + t], t, cache);
            int target = targets[b * len + t];
            if (target >= 0) {
              total += nll(logits, target);
            }
          }
        }
      }
      return total;
    }

    private static double nll(float[] logits, int target) {
      double max = Double.NEGATIVE_INFINITY;
      for (float v : logits) {
        max = Math.max(max, v);
      }
      double sum = 0;
      for (float v : logits) {
        sum += Math.exp(v - max);
      }
      return Math.log(sum) + max - logits[target];
    }
  }
}
