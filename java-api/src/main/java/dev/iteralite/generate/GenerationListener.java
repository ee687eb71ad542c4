package dev.iteralite.generate;

/**
 * Receives generated text as it is produced (streaming) and can stop the generation: return
 * {@code true} from {@link #isCancelled()} (checked before every model call) or throw from {@link
 * #onToken} (the exception propagates after the decoding state is freed).
 */
@FunctionalInterface
public interface GenerationListener {
  /**
   * Called for each generated token with the text it completes ({@code piece} may be empty while a
   * multi-byte character or a possible stop sequence is still pending). A final call with token
   * {@code -1} delivers text that was held back when generation ends.
   */
  void onToken(int token, String piece);

  /**
   * Whether the generation should stop now (e.g. the client went away or a deadline passed); the
   * result then ends with {@link GenerationResult.StopReason#CANCELLED}. Called from the generating
   * thread before the prompt and before each new token, so it must be cheap.
   */
  default boolean isCancelled() {
    return false;
  }
}
