package dev.iteralite.generate;

/**
 * What one generation produced.
 *
 * @param text the generated text (prompt excluded, stop sequence excluded)
 * @param promptTokens the prompt's token ids (BOS first with a llama2.c tokenizer)
 * @param generatedTokens the sampled token ids (a final BOS that stopped generation excluded)
 * @param stopReason why generation ended
 */
public record GenerationResult(String text, int[] promptTokens, int[] generatedTokens, StopReason stopReason) {

  /** Why a generation ended. */
  public enum StopReason {
    /** {@link GenerationConfig#maxNewTokens()} tokens were generated. */
    MAX_TOKENS,
    /** The model's sequence length was reached. */
    SEQUENCE_LENGTH,
    /** The model emitted BOS (llama2.c's end of text). */
    BOS,
    /** A stop sequence appeared. */
    STOP_SEQUENCE,
    /** {@link GenerationListener#isCancelled()} returned true. */
    CANCELLED
  }
}
