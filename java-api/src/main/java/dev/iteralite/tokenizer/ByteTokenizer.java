package dev.iteralite.tokenizer;

/** One token per byte (vocabulary 256): the simplest lossless tokenizer, and the base of byte-level BPE. */
public final class ByteTokenizer implements Tokenizer {
  private static final ByteTokenizer INSTANCE = new ByteTokenizer();

  private ByteTokenizer() {}

  /** The shared instance. */
  public static ByteTokenizer instance() {
    return INSTANCE;
  }

  @Override
  public int vocabSize() {
    return 256;
  }

  @Override
  public int[] encode(byte[] bytes) {
    int[] ids = new int[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      ids[i] = bytes[i] & 0xFF;
    }
    return ids;
  }

  @Override
  public byte[] decode(int[] ids) {
    byte[] out = new byte[ids.length];
    for (int i = 0; i < ids.length; i++) {
      int id = ids[i];
      if (id < 0 || id > 255) {
        throw new IllegalArgumentException("byte tokenizer: id " + id + " at position " + i + " is outside [0, 256)");
      }
      out[i] = (byte) id;
    }
    return out;
  }

  @Override
  public String name() {
    return "byte";
  }
}
