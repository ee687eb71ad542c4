package dev.iteralite.generate;

/** Receives generated text as it is produced (streaming). */
@FunctionalInterface
public interface GenerationListener {
  /**
   * Called for each generated token with the text it completes ({@code piece} may be empty while a
   * multi-byte character or a possible stop sequence is still pending).
   */
  void onToken(int token, String piece);
}
