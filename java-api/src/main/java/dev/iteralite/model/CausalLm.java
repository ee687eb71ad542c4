package dev.iteralite.model;

import dev.iteralite.backend.Backend;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.Arena;

/**
 * A trainable causal language model: what the trainer, evaluator, generator, checkpoints and server
 * need from Itera-Lite and the Transformer baseline alike, so both go through one pipeline.
 *
 * <p>Token batches are laid out token-major: {@code batch} independent sequences of {@code
 * tokens.length / batch} tokens, {@code tokens[b * L + t]}, each starting from an empty context.
 * The model owns its parameters; close it.
 */
public interface CausalLm extends AutoCloseable {
  /** The architecture name recorded in checkpoints: {@code itera-lite} or {@code transformer}. */
  String architecture();

  /**
   * The configuration record ({@link IteraLiteConfig} or {@link TransformerConfig}); a plain
   * record so it serialises to JSON field by field.
   */
  Record config();

  /** The backend every call runs on. */
  Backend backend();

  /** Every parameter, with gradients and one flat layout (owned by the model). */
  ParameterSet parameters();

  /** Exclusive upper bound of the token ids the model accepts. */
  int vocabSize();

  /** Longest sequence one window or decoding session may hold ({@link Integer#MAX_VALUE} if unbounded). */
  int maxSequenceLength();

  /**
   * One training forward and backward; accumulates every parameter gradient (zero them first as
   * needed), auxiliary losses included.
   *
   * @param targets next-token ids in the same layout; {@code -1} skips a position
   * @return mean next-token cross-entropy (nats per counted target) plus the weighted auxiliary losses
   */
  double forwardBackward(int[] tokens, int[] targets, int batch, Arena arena);

  /** The weighted auxiliary loss of the latest forward (0 for models without one). */
  double lastAuxLoss();

  /**
   * Fraction of routed token slots each expert received in the latest forward, layer after layer
   * ({@code experts} entries per MoE layer); empty for models without experts.
   */
  default double[] lastExpertLoad() {
    return new double[0];
  }

  /** Mean next-token cross-entropy (nats per counted target), gradients untouched. */
  double loss(int[] tokens, int[] targets, int batch);

  /** A new single-sequence decoding session (recurrent state or KV cache); close it. */
  DecodeSession newSession();

  @Override
  void close();
}
