package dev.iteralite.compress;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.nn.Parameter;
import java.util.Arrays;
import java.util.Map;

/** Shared steps of the model surgeries: config edits, model construction and tensor copies by name. */
final class ModelSurgery {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ModelSurgery() {}

  /**
   * A copy of a configuration record with some integer fields replaced; goes through the record's
   * JSON form (as checkpoints do) so it follows the record's fields and validation.
   */
  @SuppressWarnings("unchecked")
  static <T extends Record> T withFields(T config, Map<String, Integer> fields) {
    ObjectNode n = JSON.valueToTree(config);
    for (Map.Entry<String, Integer> f : fields.entrySet()) {
      if (!n.has(f.getKey())) {
        throw new IllegalStateException(config.getClass().getSimpleName() + " has no field " + f.getKey());
      }
      n.put(f.getKey(), f.getValue());
    }
    try {
      return (T) JSON.treeToValue(n, config.getClass());
    } catch (JsonProcessingException e) {
      Throwable c = e.getCause();
      throw c instanceof IllegalArgumentException iae ? iae : new IllegalArgumentException(e.getOriginalMessage(), e);
    }
  }

  /** A new model of {@code like}'s class, backend and dtype with configuration {@code config}. */
  static CausalLm newModel(CausalLm like, Record config) {
    if (like instanceof IteraLiteModel && config instanceof IteraLiteConfig c) {
      return new IteraLiteModel(like.backend(), c, like.parameters().dtype(), 0);
    }
    if (like instanceof TransformerModel && config instanceof TransformerConfig c) {
      return new TransformerModel(like.backend(), c, like.parameters().dtype(), 0);
    }
    throw new IllegalArgumentException("model surgery supports IteraLiteModel and TransformerModel, got "
        + like.getClass().getName());
  }

  /** Full-forward logits [tokens.length, V] (row-major) of either architecture. */
  static float[] logits(CausalLm model, int[] tokens, int batch) {
    if (model instanceof IteraLiteModel m) {
      return m.logits(tokens, batch);
    }
    if (model instanceof TransformerModel m) {
      return m.logits(tokens, batch);
    }
    throw new IllegalArgumentException("logits need an IteraLiteModel or TransformerModel, got "
        + model.getClass().getName());
  }

  /** Copies a whole parameter (same shape required). */
  static void copy(Parameter src, Parameter dst) {
    if (!Arrays.equals(src.shape(), dst.shape())) {
      throw new IllegalStateException("cannot copy " + src + " into " + dst + ": shapes differ");
    }
    dst.value().copyFrom(src.value().toDoubleArray());
  }

  /**
   * Copies the slices {@code keep[i]} of {@code src}'s dimension {@code dim} into slice {@code i} of
   * {@code dst} (every other dimension equal).
   */
  static void gather(Parameter src, Parameter dst, int dim, int[] keep) {
    long[] s = src.shape();
    long[] d = dst.shape();
    if (s.length != d.length || d[dim] != keep.length) {
      throw new IllegalStateException("cannot gather " + keep.length + " slices of " + src + " into " + dst);
    }
    long outer = 1;
    long inner = 1;
    for (int i = 0; i < s.length; i++) {
      if (i != dim && s[i] != d[i]) {
        throw new IllegalStateException("cannot gather " + src + " into " + dst + ": dimension " + i + " differs");
      }
      if (i < dim) {
        outer *= s[i];
      } else if (i > dim) {
        inner *= s[i];
      }
    }
    double[] sv = src.value().toDoubleArray();
    double[] dv = new double[Math.toIntExact(dst.size())];
    int in = (int) inner;
    for (int o = 0; o < outer; o++) {
      for (int k = 0; k < keep.length; k++) {
        System.arraycopy(sv, (int) ((o * s[dim] + keep[k]) * inner), dv, (int) ((o * keep.length + k) * inner), in);
      }
    }
    dst.value().copyFrom(dv);
  }

  /** The whole sequence as an array. */
  static int[] toArray(TokenSequence seq) {
    int[] ids = new int[Math.toIntExact(seq.size())];
    seq.read(0, ids, 0, ids.length);
    return ids;
  }

  /** Mean next-token loss of {@code model} over contiguous windows of {@code window} tokens. */
  static double loss(CausalLm model, TokenSequence seq, int window) {
    return new dev.iteralite.eval.Evaluator(window, 4).evaluate(dev.iteralite.eval.LanguageModel.of(model), seq)
        .loss();
  }
}
