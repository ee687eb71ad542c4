package dev.iteralite.model;

/** The token-batch preconditions every model checks before its ids reach native code, in one place. */
final class TokenChecks {
  private TokenChecks() {}

  /** {@code tokens} is non-empty and splits into {@code batch} sequences of at least one token. */
  static void requireBatch(String owner, int[] tokens, int batch) {
    if (tokens == null || tokens.length == 0 || batch < 1 || tokens.length % batch != 0) {
      throw new IllegalArgumentException(owner + ": " + (tokens == null ? "null" : tokens.length)
          + " tokens do not split into batch=" + batch + " sequences of >= 1 token");
    }
  }

  /** Every id is in {@code [0, vocabSize)}. */
  static void requireIds(String owner, int[] tokens, int vocabSize) {
    for (int t : tokens) {
      requireId(owner, t, vocabSize);
    }
  }

  /** {@code token} is in {@code [0, vocabSize)}. */
  static void requireId(String owner, int token, int vocabSize) {
    if (token < 0 || token >= vocabSize) {
      throw new IllegalArgumentException(owner + ": token " + token + " is outside [0, " + vocabSize + ")");
    }
  }
}
