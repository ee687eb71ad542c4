package dev.iteralite.compress;

import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.nn.Parameter;
import dev.iteralite.tokenizer.Llama2cTokenizer;
import dev.iteralite.tokenizer.RemappedTokenizer;
import dev.iteralite.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Drops the token ids a target corpus never uses: builds a smaller model whose embedding (and
 * untied output head) keep only the used rows, and a {@link RemappedTokenizer} that speaks the new
 * ids. Works for both architectures ({@code embed.weight} of Itera-Lite; {@code tok_embeddings} and
 * {@code output} of the Transformer); every other parameter is copied unchanged.
 *
 * <p><b>What stays the same.</b> The hidden states of any in-corpus text are bit-identical (the
 * kept embedding rows and every other weight are copied), so the logits of the kept tokens are the
 * same up to GEMM summation order. The softmax, however, now normalises over the kept tokens only:
 * with {@code m_t} the probability the original model gave the dropped tokens at position {@code
 * t}, the trimmed model's probability of every kept token is divided by {@code 1 - m_t}. Its
 * next-token loss on the corpus is therefore <em>lower or equal</em>, by exactly {@code mean_t
 * -ln(1 - m_t)} (reported as {@link Report#renormalisationGain()}), and its greedy choice is the
 * original one wherever that was a kept token (everywhere, unless the original model preferred a
 * token the corpus never uses). The report measures all of this.
 */
public final class VocabularyTrimmer {
  private VocabularyTrimmer() {}

  /**
   * Size and quality of a trim, measured on the corpus with contiguous windows.
   *
   * @param vocabBefore original vocabulary size
   * @param vocabAfter kept ids
   * @param parametersBefore trainable elements before
   * @param parametersAfter trainable elements after
   * @param bytesSaved parameter bytes removed (at the parameters' dtype)
   * @param lossBefore mean next-token loss (nats) of the original model on the corpus
   * @param lossAfter the same for the trimmed model on the remapped corpus
   * @param renormalisationGain {@code mean_t -ln(1 - m_t)} from the original model's logits: the
   *     expected {@code lossBefore - lossAfter}
   * @param maxRemovedMass largest probability the original model gave the dropped tokens at one position
   * @param maxLogitDifference largest |logit difference| of a kept token between the two models
   * @param originalArgmaxDropped positions where the original model's top token was a dropped one
   * @param greedyMismatches positions where both top tokens are kept ids but differ (0 expected)
   * @param positions positions compared
   */
  public record Report(int vocabBefore, int vocabAfter, long parametersBefore, long parametersAfter, long bytesSaved,
      double lossBefore, double lossAfter, double renormalisationGain, double maxRemovedMass,
      double maxLogitDifference, long originalArgmaxDropped, long greedyMismatches, long positions) {}

  /** The trimmed model (owned by the caller: close it), its tokenizer and the measurements. */
  public record Trimmed(CausalLm model, RemappedTokenizer tokenizer, Report report) implements AutoCloseable {
    @Override
    public void close() {
      model.close();
    }
  }

  /**
   * Trims {@code model} to the ids used by the text {@code corpus} (encoded with {@code tokenizer}).
   *
   * @see #trim(CausalLm, Tokenizer, TokenSequence, int, int...)
   */
  public static Trimmed trim(CausalLm model, Tokenizer tokenizer, byte[] corpus, int window, int... alwaysKeep) {
    Objects.requireNonNull(tokenizer, "tokenizer");
    if (corpus == null) {
      throw new IllegalArgumentException("vocabulary trimming: the corpus must not be null");
    }
    int[] ids = tokenizer.encode(corpus);
    return trim(model, tokenizer, TokenSequence.of(ids, Math.max(tokenizer.vocabSize(), 1)), window, alwaysKeep);
  }

  /**
   * Trims {@code model} to the ids that occur in {@code corpus}, plus {@code alwaysKeep} and the
   * tokenizer's special ids (llama2.c: unk, BOS, EOS), and measures the result on the corpus.
   *
   * @param tokenizer the model's tokenizer (its vocabulary must not exceed the model's)
   * @param corpus the target corpus in the model's ids (at least 2 tokens)
   * @param window evaluation window length (at most the model's maximum sequence length)
   * @param alwaysKeep further ids to keep even if unused (e.g. control tokens the application emits)
   * @throws IllegalArgumentException if the inputs do not fit together (naming which and why)
   */
  public static Trimmed trim(CausalLm model, Tokenizer tokenizer, TokenSequence corpus, int window, int... alwaysKeep) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(tokenizer, "tokenizer");
    Objects.requireNonNull(corpus, "corpus");
    int v = model.vocabSize();
    if (tokenizer.vocabSize() > v) {
      throw new IllegalArgumentException("vocabulary trimming: the tokenizer has " + tokenizer.vocabSize()
          + " ids but the model only " + v + "; pass the model's own tokenizer");
    }
    if (corpus.size() < 2) {
      throw new IllegalArgumentException("vocabulary trimming: the corpus needs at least 2 tokens, got " + corpus.size());
    }
    if (window < 1 || window > model.maxSequenceLength()) {
      throw new IllegalArgumentException("vocabulary trimming: window must be in [1, " + model.maxSequenceLength()
          + "], got " + window);
    }
    boolean[] used = new boolean[v];
    int[] ids = ModelSurgery.toArray(corpus);
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] >= tokenizer.vocabSize()) {
        throw new IllegalArgumentException("vocabulary trimming: corpus token " + i + " is id " + ids[i]
            + ", outside the tokenizer's [0, " + tokenizer.vocabSize() + "); tokenize the corpus with this tokenizer");
      }
      used[ids[i]] = true;
    }
    for (int k : alwaysKeep == null ? new int[0] : alwaysKeep) {
      if (k < 0 || k >= tokenizer.vocabSize()) {
        throw new IllegalArgumentException("vocabulary trimming: alwaysKeep id " + k + " is outside the tokenizer's [0, "
            + tokenizer.vocabSize() + ")");
      }
      used[k] = true;
    }
    if (tokenizer instanceof Llama2cTokenizer) {
      used[Llama2cTokenizer.UNK] = true;
      used[Llama2cTokenizer.BOS] = true;
      used[Llama2cTokenizer.EOS] = true;
    }
    int[] keep = java.util.stream.IntStream.range(0, v).filter(i -> used[i]).toArray();
    if (keep.length < 2) {
      throw new IllegalArgumentException("vocabulary trimming: the corpus uses only " + keep.length
          + " distinct id; a model needs at least 2 (add ids with alwaysKeep)");
    }
    RemappedTokenizer remapped = new RemappedTokenizer(tokenizer, keep);
    Record config = model.config();
    Set<String> vocabTensors;
    Record smaller;
    if (config instanceof IteraLiteConfig c) {
      smaller = ModelSurgery.withFields(c, Map.of("vocabSize", keep.length));
      vocabTensors = Set.of("embed.weight");
    } else if (config instanceof TransformerConfig c) {
      smaller = ModelSurgery.withFields(c, Map.of("vocabSize", keep.length));
      vocabTensors = Set.of("tok_embeddings", "output");
    } else {
      throw new IllegalArgumentException("vocabulary trimming supports Itera-Lite and Transformer models, got "
          + model.architecture());
    }
    CausalLm out = ModelSurgery.newModel(model, smaller);
    try {
      for (Parameter p : out.parameters().parameters()) {
        Parameter src = model.parameters().get(p.name());
        if (vocabTensors.contains(p.name())) {
          ModelSurgery.gather(src, p, 0, keep);
        } else {
          ModelSurgery.copy(src, p);
        }
      }
      int[] mapped = new int[ids.length];
      for (int i = 0; i < ids.length; i++) {
        mapped[i] = remapped.fromBaseId(ids[i]);
      }
      Report report = measure(model, out, keep, ids, mapped, window);
      return new Trimmed(out, remapped, report);
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  private static Report measure(CausalLm before, CausalLm after, int[] keep, int[] ids, int[] mapped, int window) {
    int v = before.vocabSize();
    int k = keep.length;
    boolean[] kept = new boolean[v];
    for (int id : keep) {
      kept[id] = true;
    }
    double gain = 0;
    double maxMass = 0;
    double maxDiff = 0;
    long dropped = 0;
    long mismatch = 0;
    long positions = 0;
    long targets = ids.length - 1L;
    for (long start = 0; start < targets; start += window) {
      int len = (int) Math.min(window, targets - start);
      int[] in = Arrays.copyOfRange(ids, (int) start, (int) start + len);
      int[] inMapped = Arrays.copyOfRange(mapped, (int) start, (int) start + len);
      float[] a = ModelSurgery.logits(before, in, 1);
      float[] b = ModelSurgery.logits(after, inMapped, 1);
      for (int t = 0; t < len; t++) {
        double max = Double.NEGATIVE_INFINITY;
        int argA = 0;
        for (int j = 0; j < v; j++) {
          if (a[t * v + j] > max) {
            max = a[t * v + j];
            argA = j;
          }
        }
        double all = 0;
        double removed = 0;
        for (int j = 0; j < v; j++) {
          double e = Math.exp(a[t * v + j] - max);
          all += e;
          if (!kept[j]) {
            removed += e;
          }
        }
        double m = removed / all;
        maxMass = Math.max(maxMass, m);
        gain += -Math.log1p(-m);
        int argB = 0;
        for (int j = 0; j < k; j++) {
          maxDiff = Math.max(maxDiff, Math.abs(a[t * v + keep[j]] - b[t * k + j]));
          if (b[t * k + j] > b[t * k + argB]) {
            argB = j;
          }
        }
        if (!kept[argA]) {
          dropped++;
        } else if (keep[argB] != argA) {
          mismatch++;
        }
        positions++;
      }
    }
    long pBefore = before.parameters().parameterCount();
    long pAfter = after.parameters().parameterCount();
    long bytes = before.parameters().dtype().bytesFor(pBefore - pAfter);
    TokenSequence seqBefore = TokenSequence.of(ids, v);
    TokenSequence seqAfter = TokenSequence.of(mapped, k);
    double lossBefore = ModelSurgery.loss(before, seqBefore, window);
    double lossAfter = ModelSurgery.loss(after, seqAfter, window);
    return new Report(v, k, pBefore, pAfter, bytes, lossBefore, lossAfter, gain / positions, maxMass, maxDiff, dropped,
        mismatch, positions);
  }
}
