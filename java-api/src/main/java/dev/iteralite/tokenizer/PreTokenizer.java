package dev.iteralite.tokenizer;

/**
 * GPT-2-style pre-tokenisation on raw bytes, so that BPE merges never cross word boundaries.
 *
 * <p>Bytes fall into four classes: letters (ASCII letters and every byte {@code >= 0x80}, so UTF-8
 * multi-byte characters and invalid bytes stay inside words), digits, whitespace (space, tab, LF,
 * VT, FF, CR) and punctuation (everything else). A pre-token is a maximal run of one class; a
 * single space directly before a letter, digit or punctuation run is attached to the front of that
 * run (as GPT-2's {@code " ?\p{L}+"}), and is removed from the whitespace run before it. Runs
 * longer than {@link #MAX_LENGTH} bytes are cut into pieces of at most that length. The pieces
 * partition the input, so concatenating them gives the input back: pre-tokenisation is lossless.
 * (GPT-2's contraction rules such as {@code 's} are not applied.)
 */
final class PreTokenizer {
  /** Longest pre-token; longer runs are split. */
  static final int MAX_LENGTH = 256;

  private static final byte LETTER = 0;
  private static final byte DIGIT = 1;
  private static final byte SPACE = 2;
  private static final byte PUNCT = 3;
  private static final byte[] CLASS = new byte[256];

  static {
    for (int b = 0; b < 256; b++) {
      byte c;
      if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80) {
        c = LETTER;
      } else if (b >= '0' && b <= '9') {
        c = DIGIT;
      } else if (b == ' ' || b == '\t' || b == '\n' || b == 0x0B || b == '\f' || b == '\r') {
        c = SPACE;
      } else {
        c = PUNCT;
      }
      CLASS[b] = c;
    }
  }

  /** Receives pre-tokens as {@code [from, to)} ranges of the input, in order. */
  interface Sink {
    void accept(int from, int to);
  }

  private PreTokenizer() {}

  static void split(byte[] b, int from, int to, Sink sink) {
    int i = from;
    while (i < to) {
      int start = i;
      byte cls = CLASS[b[i] & 0xFF];
      if (cls == SPACE) {
        int end = i + 1;
        while (end < to && CLASS[b[end] & 0xFF] == SPACE) {
          end++;
        }
        // A final single space before a non-space run joins that run.
        if (end < to && b[end - 1] == ' ') {
          if (end - 1 > start) {
            emit(start, end - 1, sink);
          }
          start = end - 1;
          i = end;
          cls = CLASS[b[i] & 0xFF];
        } else {
          emit(start, end, sink);
          i = end;
          continue;
        }
      }
      int end = i + 1;
      while (end < to && CLASS[b[end] & 0xFF] == cls) {
        end++;
      }
      emit(start, end, sink);
      i = end;
    }
  }

  private static void emit(int from, int to, Sink sink) {
    while (to - from > MAX_LENGTH) {
      sink.accept(from, from + MAX_LENGTH);
      from += MAX_LENGTH;
    }
    sink.accept(from, to);
  }
}
